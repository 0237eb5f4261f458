using System.Text.Json;

namespace CatchUp.IO;

/// <summary>Wording for JSON values in error messages.</summary>
internal static class JsonText
{
    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };

    /// <summary>The value's JSON text, shortened so a huge value cannot flood a message.</summary>
    public static string Show(JsonElement value, int maxLength = 60)
    {
        string text = value.GetRawText();
        return text.Length <= maxLength ? text : text[..maxLength] + "...";
    }
}
