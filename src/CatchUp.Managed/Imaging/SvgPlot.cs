using System.Globalization;
using System.Security;
using System.Text;
using CatchUp.IO;

namespace CatchUp.Imaging;

/// <summary>A named line of (x, y) points. Points that are not finite (or not positive on a log axis) break the line.</summary>
public sealed record SvgSeries(string Name, IReadOnlyList<(double X, double Y)> Points);

/// <summary>
/// A standalone SVG line plot: several named series, optional log-scale axes, ticks with labels, a legend and a title.
/// Used for loss curves and FID-versus-NFE plots; a series with few points also gets a marker on each point.
/// </summary>
public sealed class SvgPlot
{
    private const int MarkerMaxPoints = 25;
    private const double MarginLeft = 72, MarginRight = 180, MarginTop = 44, MarginBottom = 52;

    private static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    private readonly List<SvgSeries> _series = [];

    public SvgPlot(string title = "")
    {
        Title = title;
    }

    public string Title { get; set; }
    public string XLabel { get; set; } = "";
    public string YLabel { get; set; } = "";
    public bool LogX { get; set; }
    public bool LogY { get; set; }
    public int Width { get; set; } = 760;
    public int Height { get; set; } = 440;

    public IReadOnlyList<SvgSeries> Series => _series;

    public SvgPlot AddSeries(string name, IEnumerable<(double X, double Y)> points)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(points);
        _series.Add(new SvgSeries(name, points.ToArray()));
        return this;
    }

    public SvgPlot AddSeries(string name, IReadOnlyList<double> xs, IReadOnlyList<double> ys)
    {
        if (xs.Count != ys.Count)
            throw new ArgumentException($"series '{name}' has {xs.Count} x values but {ys.Count} y values");
        return AddSeries(name, xs.Zip(ys));
    }

    /// <summary>Writes the plot atomically as a UTF-8 SVG file.</summary>
    public void Save(string path)
    {
        byte[] bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(ToSvg());
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    public string ToSvg()
    {
        if (Width < MarginLeft + MarginRight + 50 || Height < MarginTop + MarginBottom + 50)
            throw new InvalidOperationException($"a {Width}x{Height} plot leaves no room for the axes");

        var xAxis = Axis.Fit(_series.SelectMany(s => s.Points).Where(IsPlottable).Select(p => p.X), LogX);
        var yAxis = Axis.Fit(_series.SelectMany(s => s.Points).Where(IsPlottable).Select(p => p.Y), LogY);
        double left = MarginLeft, right = Width - MarginRight, top = MarginTop, bottom = Height - MarginBottom;
        double Px(double x) => left + xAxis.Fraction(x) * (right - left);
        double Py(double y) => bottom - yAxis.Fraction(y) * (bottom - top);

        var svg = new StringBuilder();
        svg.Append($"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" viewBox="0 0 {Width} {Height}" font-family="sans-serif" font-size="12">""").Append('\n');
        svg.Append($"""<rect x="0" y="0" width="{Width}" height="{Height}" fill="white"/>""").Append('\n');
        if (Title.Length > 0)
            svg.Append($"""<text x="{F((left + right) / 2)}" y="{F(MarginTop / 2 + 5)}" text-anchor="middle" font-size="15" font-weight="bold">{Escape(Title)}</text>""").Append('\n');

        foreach (double tick in xAxis.Ticks)
        {
            double x = Px(tick);
            svg.Append($"""<line x1="{F(x)}" y1="{F(top)}" x2="{F(x)}" y2="{F(bottom)}" stroke="#e0e0e0"/>""");
            svg.Append($"""<line x1="{F(x)}" y1="{F(bottom)}" x2="{F(x)}" y2="{F(bottom + 5)}" stroke="black"/>""");
            svg.Append($"""<text x="{F(x)}" y="{F(bottom + 18)}" text-anchor="middle">{Escape(FormatTick(tick))}</text>""").Append('\n');
        }
        foreach (double tick in yAxis.Ticks)
        {
            double y = Py(tick);
            svg.Append($"""<line x1="{F(left)}" y1="{F(y)}" x2="{F(right)}" y2="{F(y)}" stroke="#e0e0e0"/>""");
            svg.Append($"""<line x1="{F(left - 5)}" y1="{F(y)}" x2="{F(left)}" y2="{F(y)}" stroke="black"/>""");
            svg.Append($"""<text x="{F(left - 8)}" y="{F(y + 4)}" text-anchor="end">{Escape(FormatTick(tick))}</text>""").Append('\n');
        }
        svg.Append($"""<rect x="{F(left)}" y="{F(top)}" width="{F(right - left)}" height="{F(bottom - top)}" fill="none" stroke="black"/>""").Append('\n');
        if (XLabel.Length > 0)
            svg.Append($"""<text x="{F((left + right) / 2)}" y="{F(Height - 12)}" text-anchor="middle">{Escape(XLabel)}</text>""").Append('\n');
        if (YLabel.Length > 0)
            svg.Append($"""<text x="16" y="{F((top + bottom) / 2)}" text-anchor="middle" transform="rotate(-90 16 {F((top + bottom) / 2)})">{Escape(YLabel)}</text>""").Append('\n');

        for (int s = 0; s < _series.Count; s++)
        {
            SvgSeries series = _series[s];
            string color = Palette[s % Palette.Length];
            svg.Append($"""<g stroke="{color}" fill="{color}">""").Append('\n');
            foreach (var segment in Segments(series.Points))
            {
                if (segment.Count > 1)
                {
                    svg.Append("<polyline fill=\"none\" stroke-width=\"1.5\" points=\"");
                    for (int i = 0; i < segment.Count; i++)
                        svg.Append(i == 0 ? "" : " ").Append(F(Px(segment[i].X))).Append(',').Append(F(Py(segment[i].Y)));
                    svg.Append("\"/>\n");
                }
                if (series.Points.Count <= MarkerMaxPoints || segment.Count == 1)
                {
                    foreach (var p in segment)
                        svg.Append($"""<circle cx="{F(Px(p.X))}" cy="{F(Py(p.Y))}" r="3" stroke="none"/>""");
                    svg.Append('\n');
                }
            }
            svg.Append("</g>\n");

            double ly = top + 10 + s * 20;
            svg.Append($"""<line x1="{F(right + 14)}" y1="{F(ly)}" x2="{F(right + 40)}" y2="{F(ly)}" stroke="{color}" stroke-width="2"/>""");
            svg.Append($"""<text x="{F(right + 46)}" y="{F(ly + 4)}">{Escape(series.Name)}</text>""").Append('\n');
        }
        if (_series.Count == 0 || _series.All(s => !s.Points.Any(IsPlottable)))
            svg.Append($"""<text x="{F((left + right) / 2)}" y="{F((top + bottom) / 2)}" text-anchor="middle" fill="#888888">no data</text>""").Append('\n');
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private bool IsPlottable((double X, double Y) p) =>
        double.IsFinite(p.X) && double.IsFinite(p.Y) && (!LogX || p.X > 0) && (!LogY || p.Y > 0);

    private IEnumerable<List<(double X, double Y)>> Segments(IReadOnlyList<(double X, double Y)> points)
    {
        var current = new List<(double X, double Y)>();
        foreach (var p in points)
        {
            if (IsPlottable(p))
            {
                current.Add(p);
            }
            else if (current.Count > 0)
            {
                yield return current;
                current = [];
            }
        }
        if (current.Count > 0) yield return current;
    }

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>Plain decimals for everyday magnitudes (12500, 0.25), exponents beyond; at most 6 decimals, so 3 * 0.2 prints as 0.6.</summary>
    private static string FormatTick(double v)
    {
        double a = Math.Abs(v);
        return a == 0 || (a >= 1e-4 && a < 1e7)
            ? v.ToString("0.######", CultureInfo.InvariantCulture)
            : v.ToString("0.##e+0", CultureInfo.InvariantCulture);
    }

    private static string Escape(string text) => SecurityElement.Escape(text) ?? "";

    /// <summary>An axis range in data units and its ticks; a linear range is rounded out to whole 1, 2 or 5 x 10^k steps.</summary>
    private sealed record Axis(double Min, double Max, bool Log, double[] Ticks)
    {
        private const int TargetTicks = 6;

        public double Fraction(double v) => Log
            ? (Math.Log10(v) - Math.Log10(Min)) / (Math.Log10(Max) - Math.Log10(Min))
            : (v - Min) / (Max - Min);

        public static Axis Fit(IEnumerable<double> values, bool log)
        {
            double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
            foreach (double v in values)
            {
                double t = log ? Math.Log10(v) : v;
                lo = Math.Min(lo, t);
                hi = Math.Max(hi, t);
            }
            if (lo > hi) (lo, hi) = (0, 1); // no data
            return log ? FitLog(lo, hi) : FitLinear(lo, hi);
        }

        private static Axis FitLinear(double lo, double hi)
        {
            if (hi - lo < 1e-12 * Math.Max(1, Math.Abs(hi)))
            {
                double pad = Math.Abs(lo) > 0 ? Math.Abs(lo) * 0.1 : 1;
                (lo, hi) = (lo - pad, hi + pad);
            }
            double rough = (hi - lo) / (TargetTicks - 1);
            double magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
            double step = new[] { 1.0, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= rough * 0.999);
            double min = Math.Floor(lo / step) * step, max = Math.Ceiling(hi / step) * step;
            int count = (int)Math.Round((max - min) / step) + 1;
            double[] ticks = Enumerable.Range(0, count).Select(i => Clean(min + i * step, step)).ToArray();
            return new Axis(min, max, false, ticks);
        }

        /// <summary>A log axis spans the data (plus 5% each side, in log units); ticks fall on 1, 2, 5 x 10^k inside it.</summary>
        private static Axis FitLog(double lo, double hi)
        {
            double span = hi - lo;
            (lo, hi) = span > 1e-9 ? (lo - 0.05 * span, hi + 0.05 * span) : (lo - 0.5, hi + 0.5);
            double min = Math.Pow(10, lo), max = Math.Pow(10, hi);
            int decades = (int)Math.Ceiling(hi) - (int)Math.Floor(lo);
            double[][] mantissaChoices = decades > 3 ? [[1]] : [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]];
            int stride = Math.Max(1, (int)Math.Ceiling(decades / (double)(TargetTicks + 2)));
            foreach (double[] mantissas in mantissaChoices)
            {
                var ticks = new List<double>();
                for (int e = (int)Math.Floor(lo); e <= (int)Math.Ceiling(hi); e += stride)
                {
                    foreach (double m in mantissas)
                    {
                        double t = m * Math.Pow(10, e);
                        if (t >= min && t <= max) ticks.Add(t);
                    }
                }
                if (ticks.Count >= 2) return new Axis(min, max, true, ticks.ToArray());
            }
            // A narrow range between round numbers: label its ends.
            return new Axis(min, max, true, [Math.Pow(10, lo + 0.05 * (hi - lo)), Math.Pow(10, hi - 0.05 * (hi - lo))]);
        }

        /// <summary>Removes floating-point noise such as 0.30000000000000004 from a tick value.</summary>
        private static double Clean(double v, double step)
        {
            int decimals = Math.Clamp(1 - (int)Math.Floor(Math.Log10(step)), 0, 15);
            return Math.Abs(v) < step * 1e-9 ? 0 : Math.Round(v, decimals);
        }
    }
}
