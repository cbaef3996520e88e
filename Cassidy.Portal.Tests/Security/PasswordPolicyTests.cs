using System.Net;
using Cassidy.Portal.Data;
using Cassidy.Portal.Security;
using Cassidy.Portal.Tests.Infrastructure;
using Cassidy.Portal.Tests.Organizations;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Security;

public sealed class PasswordPolicyTests(PortalFactoryFixture fixture) : IClassFixture<PortalFactoryFixture>
{
    [Theory]
    [InlineData("Password1!")]
    [InlineData("qwertyuiop")]
    [InlineData("ILOVEYOU1")]
    [InlineData("12345678")]
    public async Task Registration_refuses_a_common_password_and_creates_nothing(string password)
    {
        var email = $"common-{Guid.NewGuid():N}@newco.test";
        var client = fixture.Factory.CreateBrowserlessClient();
        var form = await PortalFactory.FormFieldsAsync(client, "/Account/Register");
        form["Input.DisplayName"] = "Casey Common";
        form["Input.OrganizationName"] = "Common Co";
        form["Input.Email"] = email;
        form["Input.Password"] = password;
        form["Input.ConfirmPassword"] = password;
        var response = await client.PostAsync("/Account/Register", new FormUrlEncodedContent(form));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("This password is too common. Choose a less guessable one.", await response.Content.ReadAsStringAsync());
        await using var db = await fixture.Factory.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
        Assert.False(await db.Users.AnyAsync(u => u.Email == email));
        Assert.False(await db.Organizations.AnyAsync(o => o.Name == "Common Co"));
    }

    [Theory]
    [InlineData("password")]
    [InlineData("PASSWORD")]
    [InlineData("Password1!")]
    [InlineData("Password2026!!")]
    [InlineData("p@ssw0rd")]
    [InlineData("12345678")]
    [InlineData("Qwerty2026!")]
    [InlineData("iloveyou1")]
    [InlineData("Test1234!")]
    [InlineData("  letmein123  ")]
    public void Common_passwords_and_their_usual_endings_are_refused(string password) =>
        Assert.True(CommonPasswordValidator.IsCommon(password));

    [Theory]
    [InlineData("Demo123!")]
    [InlineData("Sturdy#Pass9")]
    [InlineData("correct horse battery staple")]
    [InlineData("Wrong-password-1")]
    [InlineData("Zebra!Kettle42")]
    public void Uncommon_passwords_pass(string password) =>
        Assert.False(CommonPasswordValidator.IsCommon(password));

    [Fact]
    public void The_list_is_long_enough_and_holds_only_passwords_the_length_rule_would_let_through()
    {
        Assert.InRange(CommonPasswordValidator.Passwords.Count, 200, 1000);
        Assert.All(CommonPasswordValidator.Passwords, p => Assert.True(p.Length >= 8, p));
        Assert.DoesNotContain("Demo123!", CommonPasswordValidator.Passwords);
    }

    [Fact]
    public async Task The_validator_is_part_of_identity_so_password_changes_and_resets_use_it_too()
    {
        await using var scope = fixture.Factory.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        Assert.Contains(users.PasswordValidators, v => v is CommonPasswordValidator);
        var member = await users.FindByEmailAsync("member@acme.test");
        var result = await users.ChangePasswordAsync(member!, "Demo123!", "Sunshine1!");
        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, e => e.Code == CommonPasswordValidator.ErrorCode);
        Assert.True(await users.CheckPasswordAsync((await users.FindByEmailAsync("member@acme.test"))!, "Demo123!"));
    }
}
