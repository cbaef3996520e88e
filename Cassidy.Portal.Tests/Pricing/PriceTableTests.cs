using Cassidy.Portal.Data;
using Cassidy.Portal.Pricing;

using Cassidy.Portal.Tests.Infrastructure;

namespace Cassidy.Portal.Tests.Pricing;

public sealed class PriceTableTests
{
    private readonly PriceTable _prices = LedgerHarness.Prices();

    [Fact]
    public void The_spec_example_costs_8_4_credits()
    {
        var price = _prices.Price("gpt-4.1", 1200, 800, 300, ["web_search"], Features.AgentChat);
        // On gpt-4.1-mini the tokens cost 1.28 credits, the web_search fee (2.0) stays.
        Assert.Equal(new Price(8400, null, OnLighterModel: 3280), price);
    }

    [Fact]
    public void Fractions_of_a_millicredit_round_up_per_event()
    {
        // gemini-2.5-flash input: 0.3 credits per 1000 tokens = 0.3 millicredits per token.
        Assert.Equal(1, _prices.Price("gemini-2.5-flash", 1, 0, 0, [], Features.AgentChat).Millicredits);
        Assert.Equal(1, _prices.Price("gemini-2.5-flash", 3, 0, 0, [], Features.AgentChat).Millicredits); // 0.9 → 1
        Assert.Equal(2, _prices.Price("gemini-2.5-flash", 4, 0, 0, [], Features.AgentChat).Millicredits); // 1.2 → 2
        Assert.Equal(3, _prices.Price("gemini-2.5-flash", 10, 0, 0, [], Features.AgentChat).Millicredits); // exactly 3
        Assert.Equal(0, _prices.Price("gemini-2.5-flash", 0, 0, 0, [], Features.AgentChat).Millicredits);
    }

    [Fact]
    public void A_workflow_run_adds_the_action_fee_and_capabilities_add_per_use()
    {
        var price = _prices.Price("claude-haiku-4.5", 1000, 0, 1000, ["code_execution", "image_generation", "code_execution"], Features.WorkflowRun);
        Assert.Equal(1000 + 5000 + 1000 + 10000 + 1000 + 500, price.Millicredits);
    }

    [Fact]
    public void Knowledge_tokens_cost_like_input_tokens()
    {
        Assert.Equal(_prices.Price("claude-sonnet-4.5", 500, 500, 10, [], Features.AgentChat),
            _prices.Price("claude-sonnet-4.5", 1000, 0, 10, [], Features.AgentChat));
    }

    [Fact]
    public void Unknown_models_and_capabilities_are_errors_never_zero()
    {
        Assert.Equal(PricingErrors.UnknownModel, _prices.Price("gpt-2", 10, 0, 10, [], Features.AgentChat).Error);
        Assert.Equal(PricingErrors.UnknownCapability, _prices.Price("gpt-4.1", 10, 0, 10, ["telepathy"], Features.AgentChat).Error);
        Assert.Equal(PricingErrors.UnknownModel, _prices.Price("GPT-4.1", 10, 0, 10, [], Features.AgentChat).Error);
    }

    [Fact]
    public void Every_configured_model_is_priced_as_the_spec_table_says()
    {
        (string Model, long In, long Out)[] expected =
            [("gpt-4.1", 2000, 8000), ("gpt-4.1-mini", 400, 1600), ("claude-sonnet-4.5", 3000, 15000), ("claude-haiku-4.5", 1000, 5000), ("gemini-2.5-flash", 300, 2500)];
        foreach (var (model, input, output) in expected)
        {
            Assert.Equal(input, _prices.Price(model, 1000, 0, 0, [], Features.AgentChat).Millicredits);
            Assert.Equal(output, _prices.Price(model, 0, 0, 1000, [], Features.AgentChat).Millicredits);
        }
    }
}
