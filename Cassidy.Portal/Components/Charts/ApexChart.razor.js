// Thin wrapper over the global ApexCharts (apexcharts 4.7.0 UMD). The chart object goes back
// to .NET as an IJSObjectReference, so there is no registry of charts here.
export async function create(el, json) {
  const chart = new ApexCharts(el, asText(JSON.parse(json)));
  await chart.render();
  return chart;
}

export function update(chart, json) {
  return chart.updateOptions(asText(JSON.parse(json)), true, true);
}

export function destroy(chart) {
  chart.destroy();
}

// apexcharts 4.7.0 writes tooltip titles, the series names in tooltips and legend entries with innerHTML, and those strings
// come from people (member names) and from the AI runtime (agent, workflow and model names). Every one of them goes
// through a formatter that escapes it, so it is shown as the text it is and never parsed as markup. (Axis labels are
// SVG text, set with textContent: safe as they are.)
function asText(options) {
  options.tooltip = options.tooltip ?? {};
  options.tooltip.x = { ...(options.tooltip.x ?? {}), formatter: (value) => escape(value) };
  options.tooltip.y = options.tooltip.y ?? {};
  options.tooltip.y.title = { formatter: (name) => (name ? escape(name) + ': ' : '') };
  // Figures read as whole numbers with separators ("2,012"), like the tables beside the charts.
  options.tooltip.y.formatter = (value) => (typeof value === 'number' ? Math.round(value).toLocaleString('en-US') : escape(String(value)));
  options.legend = { ...(options.legend ?? {}), formatter: (name) => escape(name) };
  options.xaxis = options.xaxis ?? {};
  options.xaxis.tooltip = { ...(options.xaxis.tooltip ?? {}), formatter: (value) => escape(value) };
  return options;
}

function escape(value) {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}
