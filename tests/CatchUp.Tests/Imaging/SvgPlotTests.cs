using System.Xml.Linq;
using CatchUp.Imaging;
using CatchUp.Tests.IO;
using Xunit;

namespace CatchUp.Tests.Imaging;

public class SvgPlotTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    private static string[] Texts(XDocument doc) => doc.Descendants(Svg + "text").Select(t => t.Value).ToArray();

    [Fact]
    public void LossPlotIsWellFormedSvgWithSeriesNamesAndTitle()
    {
        var plot = new SvgPlot("Training loss") { XLabel = "step", YLabel = "loss" };
        plot.AddSeries("train <mse>", Enumerable.Range(0, 200).Select(i => ((double)i, 1.0 / (1 + i))));
        plot.AddSeries("ema & co", Enumerable.Range(0, 200).Select(i => ((double)i, 0.8 / (1 + i))));
        using var dir = new TempDirectory();
        string path = dir.File("loss.svg");

        plot.Save(path);
        XDocument doc = XDocument.Load(path);

        Assert.Equal(Svg + "svg", doc.Root!.Name);
        string[] texts = Texts(doc);
        Assert.Contains("Training loss", texts);
        Assert.Contains("train <mse>", texts);
        Assert.Contains("ema & co", texts);
        Assert.Contains("step", texts);
        Assert.Contains("loss", texts);
        Assert.Contains("0.6", texts); // tick labels are short, never 0.6000000000000001
        Assert.Equal(2, doc.Descendants(Svg + "polyline").Count());
        Assert.Empty(doc.Descendants(Svg + "circle")); // long series get no markers
    }

    [Fact]
    public void LogXPlotHasDecadeTicksAndMarkers()
    {
        var plot = new SvgPlot("FID vs NFE") { LogX = true, XLabel = "NFE", YLabel = "FID" };
        plot.AddSeries("CUD", [(1.0, 40.0), (2.0, 20.0), (4.0, 12.0), (8.0, 9.0), (16.0, 7.5), (200.0, 6.0)]);
        plot.AddSeries("RF", [(1.0, 300.0), (2.0, 150.0), (0.0, 99.0), (4.0, 60.0), (8.0, 45.0)]); // x = 0 cannot sit on a log axis

        XDocument doc = XDocument.Parse(plot.ToSvg());

        string[] texts = Texts(doc);
        Assert.Contains("CUD", texts);
        Assert.Contains("RF", texts);
        Assert.Contains("1", texts);
        Assert.Contains("10", texts);
        Assert.Contains("100", texts);
        Assert.DoesNotContain("1000", texts); // the axis ends a little past the data (200), not at the next decade
        Assert.Equal(6 + 4, doc.Descendants(Svg + "circle").Count());
        Assert.Equal(3, doc.Descendants(Svg + "polyline").Count()); // RF is broken in two at the x = 0 point
    }

    [Fact]
    public void TickLabelsArePlainNumbersForTypicalRanges()
    {
        var steps = new SvgPlot("loss");
        steps.AddSeries("train", [(0.0, 0.5), (100000.0, 0.02)]);
        string[] linear = Texts(XDocument.Parse(steps.ToSvg()));
        Assert.Contains("20000", linear);
        Assert.Contains("100000", linear);

        var tiny = new SvgPlot("loss") { LogY = true };
        tiny.AddSeries("train", [(0.0, 1e-6), (1.0, 1.0)]);
        Assert.Contains("1e-6", Texts(XDocument.Parse(tiny.ToSvg())));

        var nfe = new SvgPlot("FID") { LogX = true };
        nfe.AddSeries("CUD", [(1.0, 40.0), (2.0, 20.0), (4.0, 12.0), (8.0, 9.0), (16.0, 7.5)]);
        string[] log = Texts(XDocument.Parse(nfe.ToSvg()));
        Assert.Contains("2", log);
        Assert.Contains("5", log);
        Assert.Contains("10", log);
        Assert.DoesNotContain("100", log);
    }

    [Fact]
    public void EmptyAndDegeneratePlotsStillParse()
    {
        XDocument empty = XDocument.Parse(new SvgPlot().ToSvg());
        Assert.Contains("no data", Texts(empty));

        var flat = new SvgPlot("flat");
        flat.AddSeries("one point", [(5.0, 5.0)]);
        flat.AddSeries("nan", [(double.NaN, 1.0)]);
        XDocument doc = XDocument.Parse(flat.ToSvg());
        Assert.Single(doc.Descendants(Svg + "circle"));
    }
}
