using System.Security.Cryptography.X509Certificates;
using Cassidy.Portal.Api;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Components.Account;
using Cassidy.Portal.Components;
using Cassidy.Portal.Data;
using Cassidy.Portal.Demo;
using Cassidy.Portal.Exports;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Limits;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Pricing;
using Cassidy.Portal.Security;
using Cassidy.Portal.Usage;
using Cassidy.Portal.Webhooks;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using MudBlazor.Services;

namespace Cassidy.Portal;

public static class PortalSetup
{
    public static void AddPortal(this WebApplicationBuilder builder)
    {
        // The repository's appsettings.json ships beside the binary and is the lowest layer: any
        // appsettings.json in the content root, environment variables (Section__Key) and arguments override it.
        builder.Configuration.Sources.Insert(0, new JsonConfigurationSource
        {
            FileProvider = new PhysicalFileProvider(AppContext.BaseDirectory),
            Path = "appsettings.json",
            Optional = true,
        });

        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);

        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddMudServices(c => c.SnackbarConfiguration.PositionClass = MudBlazor.Defaults.Classes.Position.BottomRight);

        services.AddCascadingAuthenticationState();
        services.AddScoped<IdentityRedirectManager>();
        services.AddScoped<AuthenticationStateProvider, IdentityRevalidatingAuthenticationStateProvider>();
        services.AddAuthentication(options =>
            {
                options.DefaultScheme = IdentityConstants.ApplicationScheme;
                options.DefaultSignInScheme = IdentityConstants.ExternalScheme;
            })
            .AddIdentityCookies();
        services.AddAuthorization(OrgPolicies.Add);
        services.AddScoped<IAuthorizationHandler, OrganizationAuthorizationHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, OrganizationAuthorizationResultHandler>();

        services.AddPortalDatabase();
        services.AddDatabaseDeveloperPageExceptionFilter();

        // Keys in the database (not a per-machine folder), under a fixed name: auth cookies and antiforgery tokens
        // issued before a restart, a redeploy to another folder, or by a second instance stay valid. With a certificate
        // (DataProtection:CertificatePath, a PFX) the keys are encrypted at rest; without one, a start outside Development warns.
        services.AddPortalDataProtection(builder.Configuration);

        services.AddIdentityCore<ApplicationUser>(options =>
            {
                // An account signs in once its address is confirmed (the link of the confirmation e-mail, or of a password
                // reset): nobody works under an address they don't own.
                options.SignIn.RequireConfirmedAccount = true;
                options.Password.RequiredLength = 8;
                options.Lockout.MaxFailedAccessAttempts = 5;
                options.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(15);
                options.Lockout.AllowedForNewUsers = true;
                options.User.RequireUniqueEmail = true;
            })
            .AddRoles<IdentityRole>()
            .AddPasswordValidator<CommonPasswordValidator>()
            .AddEntityFrameworkStores<PortalDbContext>()
            .AddSignInManager()
            .AddClaimsPrincipalFactory<PortalClaimsFactory>()
            .AddDefaultTokenProviders();
        services.AddScoped<AccountEmails>();
        services.AddTransportSecurity();
        services.AddAbuseLimits();
        services.AddPortalServices();
        services.AddScoped<DemoSeeder>();
        services.AddInternalApi();
    }

    /// <summary>
    /// The product's own services — organizations, the metering engine, plans, limits, alerts, notifications — without
    /// the web host around them: the portal registers them here, and so does the ledger simulation.
    /// </summary>
    public static IServiceCollection AddPortalServices(this IServiceCollection services)
    {
        services.AddEmail();
        services.AddScoped<OrganizationAccess>();
        services.AddScoped<OrganizationSignup>();
        services.AddScoped<MemberManagement>();
        services.AddScoped<AccountChanges>();
        services.AddScoped<OrganizationSettings>();
        services.AddScoped<AuditQueries>();
        services.AddScoped<SupportRequests>();
        services.AddScoped<StaffDesk>();
        services.AddSingleton<LedgerAudit>();
        services.AddHostedService(sp => sp.GetRequiredService<LedgerAudit>());
        services.AddPricing();
        services.AddBilling();
        services.AddLedger();
        services.AddUsage();
        services.AddLimits();
        services.AddSingleton<NotificationCenter>();
        services.AddWebhooks();
        return services;
    }

    /// <summary>
    /// The data-protection keys (sign-in cookies, antiforgery, the outbox's encrypted links) in the database under a fixed
    /// application name, so restarts, redeploys and other instances share them; encrypted at rest with the PFX certificate
    /// <c>DataProtection:CertificatePath</c> names (and <c>DataProtection:CertificatePassword</c> opens), when one does.
    /// </summary>
    public static IDataProtectionBuilder AddPortalDataProtection(this IServiceCollection services, IConfiguration configuration)
    {
        var keys = services.AddDataProtection()
            .PersistKeysToDbContext<PortalDbContext>()
            .SetApplicationName("Cassidy.Portal");
        if (configuration["DataProtection:CertificatePath"] is { Length: > 0 } path)
            keys.ProtectKeysWithCertificate(X509CertificateLoader.LoadPkcs12FromFile(path, configuration["DataProtection:CertificatePassword"]));
        return keys;
    }

    public static void MapPortal(this WebApplication app)
    {
        // First the client's real scheme and address (behind a proxy), then https, HSTS and Secure cookies when served on https.
        app.UseTransportSecurity();
        // Outermost, so the error page, re-executed status pages, static files and the API all carry the headers.
        app.UseSecurityHeaders();
        if (app.Environment.IsDevelopment())
            app.UseMigrationsEndPoint();
        else
            app.UseExceptionHandler("/Error", createScopeForErrors: true);
        // The internal API (/internal/v1) branches off here: it authenticates by bearer key (InternalApiGate), so the page
        // middleware below — status-code pages, cookie authentication, authorization, antiforgery — is pure cost for it
        // (measured: about half of authorize's server time). Middleware the API needs too (exception handler, HSTS,
        // security headers) goes ABOVE this line.
        app.MapInternalApiBranch();

        // Before routing and authorization, so a refused request (403/404) is re-executed as the friendly status page.
        app.UseStatusCodePagesWithReExecute("/status/{0}", createScopeForStatusCodePages: true);
        app.UseRouting();
        app.UseRateLimiter();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();

        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        app.MapAdditionalIdentityEndpoints();
        app.MapCsvExports();
        app.MapOpenApi(); // describes the internal API, whose endpoints live on its branch (MapInternalApiBranch)

        app.MapGet("/healthz", async (IDbContextFactory<PortalDbContext> dbFactory, CancellationToken ct) =>
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            return await db.Database.CanConnectAsync(ct)
                ? Results.Text("ok")
                : Results.Text("database unavailable", statusCode: StatusCodes.Status503ServiceUnavailable);
        }).AllowAnonymous();
    }

    /// <summary>Migrates the database and, when enabled and the database is empty, fills it with demo data.</summary>
    public static async Task PrepareDatabaseAsync(this WebApplication app)
    {
        if (!app.Environment.IsDevelopment() && string.IsNullOrEmpty(app.Configuration["DataProtection:CertificatePath"]))
            app.Logger.LogWarning("The data-protection keys (which sign sign-in cookies and encrypt e-mail links) are stored unencrypted in the " +
                "database. Set DataProtection__CertificatePath (a PFX file) and DataProtection__CertificatePassword to encrypt them (README, Deploying).");
        await PortalDatabase.MigrateAsync(app.Services);
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<DemoSeeder>().SeedAsync();
    }
}
