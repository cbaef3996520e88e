using Cassidy.Portal.Data;
using Cassidy.Portal.Limits;

using Cassidy.Portal.Tests.Infrastructure;

namespace Cassidy.Portal.Tests.Limits;

/// <summary>Edge-triggered credit alerts on the real engine and database: thresholds, concurrency, re-arming, recipients.</summary>
public sealed class AlertEvaluatorTests : IAsyncLifetime
{
    private AlertHarness _h = null!;

    public async Task InitializeAsync() => _h = await AlertHarness.CreateAsync();
    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task One_big_event_crossing_several_thresholds_fires_each_once_and_tells_people_once_naming_the_highest()
    {
        await _h.SpendAsync("e1", 1_000); // 5 %
        Assert.Equal(0, await _h.Evaluator.EvaluateAsync(_h.OrgId));

        await _h.SpendAsync("e2", 15_000); // 80 % exactly: crosses 50 and 80 at once
        Assert.Equal(2, await _h.Evaluator.EvaluateAsync(_h.OrgId));
        Assert.Equal(0, await _h.Evaluator.EvaluateAsync(_h.OrgId));

        await _h.SpendAsync("e3", 4_000); // 100 %
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));
        Assert.Equal(0, await _h.Evaluator.EvaluateAsync(_h.OrgId));

        var firings = await _h.FiringsAsync();
        Assert.Equal([50L, 80L, 100L], firings.Select(f => f.Threshold).Order());
        Assert.All(firings, f => Assert.Equal(AlertFiring.OrganizationSubject, f.Subject));
        Assert.Equal(firings.Single(f => f.Threshold == 80).Id, firings.Single(f => f.Threshold == 50).SentWithId);

        // Admins get organization alerts (Alice is the owner); Bob, a member, gets none: 80 % (which covers 50 %), then 100 %.
        var notes = (await _h.NotificationsAsync()).Where(n => n.FiringId is not null).ToList();
        Assert.Equal(["Org has used 80% of its monthly credits", "Org has used 100% of its monthly credits"], notes.Select(n => n.Title));
        Assert.All(notes, n => Assert.Equal(_h.Ledger.Alice.Id, n.UserId));
        Assert.Contains("16,000 of its 20,000 monthly credits", notes[0].Body);
        Assert.Equal("/orgs/org/settings/usage", notes[0].Link);

        var emails = (await _h.EmailsAsync()).Where(e => e.Kind == "alert").ToList();
        Assert.Equal(2, emails.Count);
        Assert.All(emails, e => Assert.Equal("alice@test.test", e.To));
        Assert.Contains($"{AlertHarness.BaseUrl}/orgs/org/settings/usage", emails[0].TextBody);

        var history = (await _h.Rules.HistoryAsync(_h.OrgId, 0, 10)).Rows;
        Assert.Equal("Told with the higher threshold", history.Single(r => r.Threshold == 50).Delivery);
    }

    [Fact]
    public async Task Running_out_pauses_AI_for_everyone_and_credits_coming_back_say_so_once_each()
    {
        await _h.SpendAsync("e1", 20_500); // past the allowance
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        var paused = (await _h.NotificationsAsync()).Where(n => n.Title == "Org is out of credits: AI features are paused").ToList();
        Assert.Equal(new[] { _h.Ledger.Alice.Id, _h.Ledger.Bob.Id }.Order(), paused.Select(n => n.UserId).Order());
        Assert.Contains("upgrade the plan", paused.Single(n => n.UserId == _h.Ledger.Alice.Id).Body);
        Assert.Equal("/orgs/org/my-usage", paused.Single(n => n.UserId == _h.Ledger.Bob.Id).Link);
        Assert.Contains(await _h.EmailsAsync(), m => m.To == "bob@test.test" && m.Subject == "Org is out of credits: AI features are paused");

        _h.Ledger.Clock.Advance(TimeSpan.FromDays(32)); // a new period brings the allowance back
        await _h.Ledger.Ledger.CloseDuePeriodsAsync(_h.OrgId);
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        var back = (await _h.NotificationsAsync()).Where(n => n.Title == "Org has credits again").ToList();
        Assert.Equal(2, back.Count);
        Assert.Contains("as a new billing period began", back.Single(n => n.UserId == _h.Ledger.Alice.Id).Body);
    }

    [Fact]
    public async Task A_member_jumping_past_80_and_100_percent_of_their_limit_hears_once_that_they_are_at_100()
    {
        await _h.Caps.SetMemberCapsAsync(_h.OrgId, AlertHarness.Admin, [new(_h.Ledger.Bob.Id, await _h.VersionOfAsync(_h.Ledger.Bob.Id))],
            MemberCapMode.Custom, 1_000_000);
        await _h.SpendAsync("b1", 1_100, "bob@test.test");
        Assert.Equal(2, await _h.Evaluator.EvaluateAsync(_h.OrgId));
        var bob = Assert.Single(await _h.NotificationsAsync(_h.Ledger.Bob.Id));
        Assert.Equal("You have used 100% of your credit limit in Org", bob.Title);
        Assert.Contains("AI features are unavailable to you", bob.Body);
        Assert.DoesNotContain(await _h.NotificationsAsync(), n => n.Title.Contains("80%", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_projection_rule_is_on_for_new_organizations()
    {
        var defaults = AlertRules.Defaults(_h.Ledger.Now);
        Assert.True(defaults.Single(r => r.Kind == AlertKinds.OrgProjectedRunout).Enabled);
        Assert.False(defaults.Single(r => r.Kind == AlertKinds.OrgBalanceBelow).Enabled);
    }

    [Fact]
    public async Task Fifty_parallel_events_crossing_80_percent_give_one_notification_and_one_email()
    {
        await _h.SpendAsync("warmup", 15_950); // 79.75 %: 50 % fires now
        await _h.Evaluator.StartAsync(CancellationToken.None); // evaluates after every commit from here on
        await WaitUntilAsync(async () => (await _h.FiringsAsync()).Count == 1);

        var events = Enumerable.Range(0, 50).Select(i => _h.SpendAsync($"p{i}", 1)).ToList();
        // Evaluations racing the writer's own: the unique index, not a check, decides.
        var racers = Enumerable.Range(0, 10).Select(_ => Task.Run(() => _h.Evaluator.EvaluateAsync(_h.OrgId))).ToList();
        await Task.WhenAll(events);
        await Task.WhenAll(racers);
        await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => _h.Evaluator.EvaluateAsync(_h.OrgId))));
        await WaitUntilAsync(() => Task.FromResult(_h.Evaluator.Idle));

        var firings = await _h.FiringsAsync();
        Assert.Single(firings, f => f.Threshold == 80);
        Assert.DoesNotContain(firings, f => f.Threshold == 100);
        Assert.Single(await _h.NotificationsAsync(), n => n.Title.Contains("80%", StringComparison.Ordinal));
        Assert.Single(await _h.EmailsAsync(), m => m.Subject.Contains("80%", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Thresholds_re_arm_when_the_next_period_starts()
    {
        await _h.SpendAsync("a", 10_000);
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));

        _h.Ledger.Clock.Advance(TimeSpan.FromDays(32)); // the period closes; usage starts again from zero
        Assert.Equal(0, await _h.Evaluator.EvaluateAsync(_h.OrgId));
        await _h.SpendAsync("b", 9_999);
        Assert.Equal(0, await _h.Evaluator.EvaluateAsync(_h.OrgId));
        await _h.SpendAsync("c", 1);
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));

        var firings = await _h.FiringsAsync();
        Assert.Equal(2, firings.Count);
        Assert.All(firings, f => Assert.Equal(50, f.Threshold));
        Assert.True(firings[1].PeriodStart > firings[0].PeriodStart);
    }

    [Fact]
    public async Task A_member_gets_their_own_cap_alerts_and_admins_are_told_too()
    {
        var bob = _h.Ledger.Bob.Id;
        await _h.Caps.SetMemberCapsAsync(_h.OrgId, AlertHarness.Admin, [new(bob, 0)], MemberCapMode.Custom, 100_000);
        await _h.SpendAsync("b1", 85, "bob@test.test");
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));
        await _h.SpendAsync("b2", 20, "bob@test.test");
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));

        var firings = await _h.FiringsAsync();
        Assert.Equal([80L, 100L], firings.Select(f => f.Threshold));
        Assert.All(firings, f => Assert.Equal(bob, f.Subject));

        var mine = await _h.NotificationsAsync(bob);
        Assert.Equal(2, mine.Count);
        Assert.Equal("You have used 100% of your credit limit in Org", mine[1].Title);
        Assert.Contains("You have used 105 of your 100-credit limit", mine[1].Body);
        Assert.Contains("AI features are unavailable to you", mine[1].Body);
        Assert.Equal("/orgs/org/my-usage", mine[1].Link);

        var admins = await _h.NotificationsAsync(_h.Ledger.Alice.Id);
        Assert.Equal("Bob has used 100% of their credit limit in Org", admins[1].Title);

        var emails = await _h.EmailsAsync();
        Assert.Equal(4, emails.Count);
        Assert.Equal(2, emails.Count(e => e.To == "bob@test.test"));
        Assert.Contains($"{AlertHarness.BaseUrl}/orgs/org/my-usage", emails.Last(e => e.To == "bob@test.test").TextBody);
    }

    [Fact]
    public async Task Disabled_rules_stay_quiet_and_balance_and_projection_rules_fire_once_enabled()
    {
        var allowance = await _h.RuleAsync(AlertKinds.OrgAllowancePercent);
        Assert.True((await _h.Rules.SaveAsync(_h.OrgId, AlertHarness.Admin, allowance.Id,
            new AlertRuleInput(false, "50,80,100", true, false, "", true, true))).Succeeded);
        await _h.SpendAsync("x", 18_500); // 1,500 left
        Assert.Equal(0, await _h.Evaluator.EvaluateAsync(_h.OrgId));

        var balance = await _h.RuleAsync(AlertKinds.OrgBalanceBelow);
        Assert.True((await _h.Rules.SaveAsync(_h.OrgId, AlertHarness.Admin, balance.Id,
            new AlertRuleInput(true, "2000, 1000", false, false, "finance@customer.test", false, true))).Succeeded);
        var projection = await _h.RuleAsync(AlertKinds.OrgProjectedRunout);
        Assert.True((await _h.Rules.SaveAsync(_h.OrgId, AlertHarness.Admin, projection.Id,
            new AlertRuleInput(true, "", true, false, "", true, false))).Succeeded);

        Assert.Equal(2, await _h.Evaluator.EvaluateAsync(_h.OrgId)); // below 2,000 (not 1,000) and running out
        var emails = await _h.EmailsAsync();
        Assert.Equal("finance@customer.test", Assert.Single(emails).To);
        Assert.Equal("Org's credit balance is below 2,000 credits", emails[0].Subject);
        var note = Assert.Single(await _h.NotificationsAsync());
        Assert.StartsWith("Org is projected to run out of credits before", note.Title);
    }

    [Theory]
    [InlineData(AlertKinds.OrgAllowancePercent, "50, 80,100%", "50,80,100", null)]
    [InlineData(AlertKinds.OrgAllowancePercent, "", null, "Enter at least one percentage, like 50, 80, 100.")]
    [InlineData(AlertKinds.OrgAllowancePercent, "50, lots", null, "“lots” is not a whole number of percent. Separate thresholds with commas, like 50, 80, 100.")]
    [InlineData(AlertKinds.MemberCapPercent, "0", null, "Each threshold must be between 1 and 1,000 percent.")]
    [InlineData(AlertKinds.OrgBalanceBelow, "1000, 500", "500,1000", null)]
    [InlineData(AlertKinds.OrgBalanceBelow, "12,000", "12000", null)] // written like a limit
    [InlineData(AlertKinds.OrgBalanceBelow, "500; 12,000", "500,12000", null)]
    [InlineData(AlertKinds.OrgBalanceBelow, "1,000, 2,500", "1000,2500", null)]
    [InlineData(AlertKinds.OrgBalanceBelow, "500,1000", "500,1000", null)] // not groups of three: two thresholds
    public void Thresholds_are_validated(string kind, string text, string? normalized, string? error) =>
        Assert.Equal((normalized, error), AlertRules.ParseThresholds(kind, text));

    [Theory]
    [InlineData("a@b.test, c@d.test", "a@b.test, c@d.test", null)]
    [InlineData("", "", null)]
    [InlineData("a@b.test, nope", null, "“nope” is not a valid email address. Separate addresses with commas.")]
    [InlineData("a@b", null, "“a@b” is not a valid email address. Separate addresses with commas.")]
    public void Extra_emails_are_validated(string text, string? normalized, string? error) =>
        Assert.Equal((normalized, error), AlertRules.ParseEmails(text));

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Condition not met in 10 s.");
            await Task.Delay(20);
        }
    }
}
