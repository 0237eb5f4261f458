namespace CatchUp.Evaluation;

/// <summary>Softmax and the mean softmax cross-entropy of [N, classes] logits, on the host in double precision.</summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>Writes softmax(logits) row by row into <paramref name="probs"/>.</summary>
    public static void Softmax(ReadOnlySpan<float> logits, int classes, Span<double> probs)
    {
        if (probs.Length != logits.Length) throw new ArgumentException("probs and logits differ in length");
        for (int row = 0; row < logits.Length; row += classes)
        {
            ReadOnlySpan<float> z = logits.Slice(row, classes);
            Span<double> p = probs.Slice(row, classes);
            double max = double.NegativeInfinity;
            foreach (float v in z) max = Math.Max(max, v);
            double sum = 0;
            for (int c = 0; c < classes; c++) sum += p[c] = Math.Exp(z[c] - max);
            for (int c = 0; c < classes; c++) p[c] /= sum;
        }
    }

    /// <summary>
    /// Mean over the batch of -log softmax(logits)[label]. When <paramref name="gradient"/> is non-empty it receives
    /// dLoss/dlogits = (softmax - onehot) / N. Returns the loss and how many rows have their label as arg-max.
    /// </summary>
    public static (double Loss, int Correct) Compute(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, Span<float> gradient)
    {
        int n = labels.Length;
        if (logits.Length != n * classes) throw new ArgumentException($"expected {n}x{classes} logits, got {logits.Length}");
        if (!gradient.IsEmpty && gradient.Length != logits.Length) throw new ArgumentException("gradient and logits differ in length");
        double loss = 0;
        int correct = 0;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> z = logits.Slice(i * classes, classes);
            int label = labels[i];
            if ((uint)label >= (uint)classes) throw new ArgumentException($"label {label} is outside 0..{classes - 1}");
            int best = 0;
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++)
                if (z[c] > max) { max = z[c]; best = c; }
            if (best == label) correct++;
            double sum = 0;
            for (int c = 0; c < classes; c++) sum += Math.Exp(z[c] - max);
            double logSum = max + Math.Log(sum);
            loss += logSum - z[label];
            if (gradient.IsEmpty) continue;
            for (int c = 0; c < classes; c++)
                gradient[i * classes + c] = (float)((Math.Exp(z[c] - logSum) - (c == label ? 1 : 0)) / n);
        }
        return (loss / n, correct);
    }
}
