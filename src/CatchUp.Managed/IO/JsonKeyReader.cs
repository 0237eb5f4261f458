using System.Text.Json;

namespace CatchUp.IO;

/// <summary>Typed access to config values; a value of the wrong JSON type names the key and what was found.</summary>
internal readonly struct JsonKeyReader(string sourceName)
{
    private InvalidDataFileException WrongType(string key, string expected, JsonElement value) =>
        new(sourceName, $"key '{key}': expected {expected}, found {JsonText.Describe(value.ValueKind)} {JsonText.Show(value)}");

    public int Int(string key, JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result) ? result : throw WrongType(key, "an integer", value);

    public double Double(string key, JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double result) && double.IsFinite(result)
            ? result
            : throw WrongType(key, "a number", value);

    public bool Bool(string key, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw WrongType(key, "true or false", value),
    };

    public string String(string key, JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw WrongType(key, "a string", value);

    public int[] IntArray(string key, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array) throw WrongType(key, "an array of integers", value);
        var result = new int[value.GetArrayLength()];
        int i = 0;
        foreach (JsonElement item in value.EnumerateArray())
            result[i++] = item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out int v) ? v : throw WrongType(key, "an array of integers", value);
        return result;
    }
}
