// Thin wrapper over the global ApexCharts (apexcharts 4.7.0 UMD). The chart object goes back
// to .NET as an IJSObjectReference, so there is no registry of charts here.
export async function create(el, json) {
  const chart = new ApexCharts(el, JSON.parse(json));
  await chart.render();
  return chart;
}

export function update(chart, json) {
  return chart.updateOptions(JSON.parse(json), true, true);
}

export function destroy(chart) {
  chart.destroy();
}
