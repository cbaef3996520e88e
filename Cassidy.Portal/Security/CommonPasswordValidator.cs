using Cassidy.Portal.Data;
using Microsoft.AspNetCore.Identity;

namespace Cassidy.Portal.Security;

/// <summary>
/// Refuses the passwords that attackers try first: a list of the most common passwords of 8 or more characters,
/// compared case-insensitively, as typed and with trailing symbols, or trailing digits and symbols, taken off
/// ("Password1!" is "password"). A few very common words are refused with any ending ("Qwerty2026!").
/// </summary>
public sealed class CommonPasswordValidator : IPasswordValidator<ApplicationUser>
{
    public const string ErrorCode = "CommonPassword";
    public const string ErrorMessage = "This password is too common. Choose a less guessable one.";

    /// <summary>Shortest stem (what is left after removing trailing digits and symbols) that is refused with any ending.</summary>
    private const int MinimumStemLength = 6;

    // Gathered from the public lists of most-used leaked passwords, keeping those long enough to pass the length rule.
    private const string List = """
        password password1 password12 password123 password1234 password! password1! password123! passw0rd passw0rd1
        p@ssw0rd p@ssw0rd1 p@ssword p@ssword1 pa$$word pa$$w0rd passwort motdepasse qwerty12345 password2
        12345678 123456789 1234567890 0123456789 12341234 11111111 22222222 00000000 88888888 66666666
        87654321 987654321 123123123 12344321 11223344 12121212 147258369 159357456 789456123 741852963
        963852741 123456789a 12345678a 1234567a a12345678 aa123456 abc12345 abcd1234 1234abcd abcdefgh
        abcdefg1 a1b2c3d4 a1b2c3d4e5 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y q1w2e3r4 q1w2e3r4t5 1qaz2wsx 1qazxsw2
        zaq12wsx zaq1zaq1 zaq1xsw2 qazwsxedc qweasdzxc 123qweasd qwe123qwe qweqweqwe qwer1234 1234qwer
        qwertyui qwertyuiop qwerty12 qwerty123 qwerty1234 qwerty123! qwertyu1 asdfghjk asdfghjkl asdfasdf
        asdf1234 asdfqwer zxcvbnm1 zxcvbnm123 zxcvbnmm 1234asdf iloveyou iloveyou1 iloveyou2 iloveyou!
        letmein1 letmein123 letmein! welcome1 welcome123 welcome! welcome2 sunshine sunshine1 princess
        princess1 football football1 baseball baseball1 basketball superman superman1 batman123 starwars
        starwars1 trustno1 whatever whatever1 jennifer michelle michael1 jordan23 charlie1 computer
        computer1 internet mercedes corvette chocolate butterfly passport samantha 1password password01
        administrator admin123 admin1234 adminadmin changeme changeme1 changeme123 default1 monkey123
        dragon123 shadow123 master123 freedom1 hello123 hello1234 helloworld test1234 test12345 testtest
        testing123 secret123 blahblah access14 football123 soccer123 liverpool chelsea1 arsenal1 manchester
        pokemon1 minecraft fortnite starwars123 harrypotter spiderman superstar blink182 metallica slipknot
        rockyou1 matrix123 matthew1 jessica1 ashley123 nicole123 daniel123 anthony1 jonathan thomas123
        iloveu123 lovelove loveyou1 lovely123 babygirl babygirl1 sweetheart angel123 summer2024 summer2025
        winter2024 spring2024 autumn2024 qwerty2024 welcome2024 password2024 password2025 monday123 friday123
        letmeinnow trustme1 whatever! myspace1 linkedin facebook1 google123 iloveyou123 123abc123 abc123abc
        aaaaaaaa zzzzzzzz qqqqqqqq 1111111111 99999999 55555555 77777777 12345qwert 123456qwerty qwerty123456
        """;

    internal static readonly IReadOnlySet<string> Passwords =
        List.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static readonly HashSet<string> Stems =
        Passwords.Select(StripDigitsAndSymbols).Where(s => s.Length >= MinimumStemLength).ToHashSet(StringComparer.OrdinalIgnoreCase);

    public Task<IdentityResult> ValidateAsync(UserManager<ApplicationUser> manager, ApplicationUser user, string? password) =>
        Task.FromResult(password is not null && IsCommon(password)
            ? IdentityResult.Failed(new IdentityError { Code = ErrorCode, Description = ErrorMessage })
            : IdentityResult.Success);

    public static bool IsCommon(string password)
    {
        var typed = password.Trim();
        var stem = StripDigitsAndSymbols(typed);
        return Passwords.Contains(typed)
            || Passwords.Contains(TrimEndWhere(typed, IsSymbol))
            || Passwords.Contains(stem)
            || Stems.Contains(stem);
    }

    private static string StripDigitsAndSymbols(string value) => TrimEndWhere(value, c => char.IsDigit(c) || IsSymbol(c));

    private static bool IsSymbol(char c) => !char.IsLetterOrDigit(c);

    private static string TrimEndWhere(string value, Func<char, bool> strip)
    {
        var end = value.Length;
        while (end > 0 && strip(value[end - 1])) end--;
        return value[..end];
    }
}
