using System.Buffers.Binary;
using System.Text;
using CatchUp.IO;

namespace CatchUp.Migration;

/// <summary>
/// Writes what <c>torch.save</c> writes for a state dict or a list of state dicts: a stored (uncompressed) zip with
/// <c>archive/data.pkl</c> (pickle protocol 2: OrderedDicts of <c>_rebuild_tensor_v2</c> over <c>torch.FloatStorage</c>),
/// <c>archive/data/N</c> (one float32 or float16 record per tensor, 64-byte aligned), <c>archive/byteorder</c> and
/// <c>archive/version</c>. <c>torch.load(..., weights_only=True)</c> reads it. The file is replaced atomically.
/// </summary>
internal static class PthWriter
{
    /// <param name="float16">Tensors stored as float16 (<c>torch.HalfStorage</c>, as a module converted with
    /// <c>.half()</c> saves them); the others are float32.</param>
    public static void WriteStateDict(string path, IReadOnlyList<KeyValuePair<string, HostTensor>> stateDict, Func<string, bool>? float16 = null) =>
        Write(path, [stateDict], asList: false, float16 ?? (_ => false));

    public static void WriteStateDictList(string path, IReadOnlyList<IReadOnlyList<KeyValuePair<string, HostTensor>>> stateDicts) =>
        Write(path, stateDicts, asList: true, _ => false);

    private static void Write(string path, IReadOnlyList<IReadOnlyList<KeyValuePair<string, HostTensor>>> dicts, bool asList, Func<string, bool> float16)
    {
        var storages = new List<(HostTensor Tensor, bool Half)>();
        var pickle = new PickleBuilder();
        pickle.Op(0x80).Op(2);
        if (asList) pickle.Op(']').Op('(');
        foreach (var dict in dicts)
        {
            pickle.Global("collections", "OrderedDict").Op(')').Op('R');
            if (dict.Count > 0) pickle.Op('(');
            foreach (var (name, tensor) in dict)
            {
                pickle.Unicode(name);
                pickle.Global("torch._utils", "_rebuild_tensor_v2").Op('(');
                bool half = float16(name);
                pickle.Op('(').Unicode("storage").Global("torch", half ? "HalfStorage" : "FloatStorage").Unicode(storages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))
                    .Unicode("cpu").Int(tensor.Length).Op('t').Op('Q');
                storages.Add((tensor, half));
                pickle.Int(0).IntTuple(tensor.Shape).IntTuple(RowMajorStrides(tensor.Shape)).Op(0x89);
                pickle.Global("collections", "OrderedDict").Op(')').Op('R').Op('t').Op('R');
            }
            if (dict.Count > 0) pickle.Op('u');
        }
        if (asList) pickle.Op('e');
        pickle.Op('.');

        var zip = new StoredZipWriter();
        zip.Add("archive/data.pkl", pickle.ToArray());
        zip.Add("archive/byteorder", "little"u8.ToArray());
        for (int i = 0; i < storages.Count; i++)
        {
            var (tensor, half) = storages[i];
            var bytes = new byte[tensor.Length * (half ? 2 : 4)];
            for (int j = 0; j < tensor.Length; j++)
            {
                if (half) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(2 * j), (Half)tensor.Data[j]);
                else BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * j), tensor.Data[j]);
            }
            zip.Add($"archive/data/{i}", bytes);
        }
        zip.Add("archive/version", "3\n"u8.ToArray());
        AtomicFile.Write(path, zip.WriteTo);
    }

    private static int[] RowMajorStrides(int[] shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = s;
            s *= Math.Max(shape[d], 1);
        }
        return strides;
    }

    private sealed class PickleBuilder
    {
        private readonly MemoryStream _out = new();

        public PickleBuilder Op(int op)
        {
            _out.WriteByte((byte)op);
            return this;
        }

        public PickleBuilder Global(string module, string name)
        {
            Op('c');
            _out.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
            return this;
        }

        public PickleBuilder Unicode(string s)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)bytes.Length);
            Op('X');
            _out.Write(length);
            _out.Write(bytes);
            return this;
        }

        public PickleBuilder Int(int value)
        {
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
            Op('J');
            _out.Write(bytes);
            return this;
        }

        public PickleBuilder IntTuple(int[] values)
        {
            Op('(');
            foreach (int v in values) Int(v);
            return Op('t');
        }

        public byte[] ToArray() => _out.ToArray();
    }
}
