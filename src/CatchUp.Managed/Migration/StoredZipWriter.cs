using System.Buffers.Binary;
using System.Text;

namespace CatchUp.Migration;

/// <summary>
/// A minimal zip writer for PyTorch archives: stored records only, each record's data 64-byte aligned (padding in the
/// local header's extra field, as PyTorch does), no zip64 (archives must stay under 4 GiB).
/// </summary>
internal sealed class StoredZipWriter
{
    private const int Alignment = 64;
    private readonly List<(string Name, byte[] Data)> _records = new();

    public void Add(string name, byte[] data) => _records.Add((name, data));

    public void WriteTo(Stream stream)
    {
        var central = new MemoryStream();
        long offset = 0;
        foreach (var (name, data) in _records)
        {
            byte[] nameBytes = Encoding.UTF8.GetBytes(name);
            uint crc = Crc32.Compute(data);
            int headerLength = 30 + nameBytes.Length;
            int padding = (int)((Alignment - (offset + headerLength + 4) % Alignment) % Alignment) + 4;
            if (offset + headerLength + padding + data.Length > uint.MaxValue)
                throw new IOException("the archive would exceed 4 GiB, which this writer does not support");
            var local = new byte[headerLength + padding];
            Header(local, 0x04034b50, nameBytes, crc, data.Length, padding, central: false, localOffset: 0);
            // Extra field "FB" (PyTorch's padding id) holding the zeros that align the data.
            BinaryPrimitives.WriteUInt16LittleEndian(local.AsSpan(headerLength), 0x4246);
            BinaryPrimitives.WriteUInt16LittleEndian(local.AsSpan(headerLength + 2), (ushort)(padding - 4));
            stream.Write(local);
            stream.Write(data);

            var entry = new byte[46 + nameBytes.Length];
            Header(entry, 0x02014b50, nameBytes, crc, data.Length, 0, central: true, localOffset: (uint)offset);
            central.Write(entry);
            offset += local.Length + data.Length;
        }
        var end = new byte[22];
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(8), (ushort)_records.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(10), (ushort)_records.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(end.AsSpan(12), (uint)central.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(end.AsSpan(16), (uint)offset);
        central.WriteTo(stream);
        stream.Write(end);
    }

    private static void Header(byte[] b, uint signature, byte[] name, uint crc, int size, int extraLength, bool central, uint localOffset)
    {
        var s = b.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, signature);
        int p = 4;
        if (central)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(s[p..], 20); // version made by
            p += 2;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(s[p..], 20); // version needed
        // flags, method (0 = stored), time and date: zero
        p += 2 + 2 + 2 + 4;
        BinaryPrimitives.WriteUInt32LittleEndian(s[p..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(p + 4)..], (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(p + 8)..], (uint)size);
        BinaryPrimitives.WriteUInt16LittleEndian(s[(p + 12)..], (ushort)name.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(s[(p + 14)..], (ushort)extraLength);
        p += 16;
        if (central)
        {
            // comment length, disk number, internal and external attributes: zero; then the local header's offset.
            BinaryPrimitives.WriteUInt32LittleEndian(s[(p + 2 + 2 + 2 + 4)..], localOffset);
            p += 2 + 2 + 2 + 4 + 4;
        }
        name.CopyTo(s[p..]);
    }

    private static class Crc32
    {
        private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
        {
            uint c = (uint)n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            return c;
        }).ToArray();

        public static uint Compute(ReadOnlySpan<byte> data)
        {
            uint c = 0xFFFFFFFFu;
            foreach (byte b in data) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
            return c ^ 0xFFFFFFFFu;
        }
    }
}
