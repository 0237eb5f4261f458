using CatchUp.Evaluation;
using Xunit;
using static CatchUp.Tests.Evaluation.MatrixTestKit;

namespace CatchUp.Tests.Evaluation;

public class SymmetricEigenTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(7, 3)]
    [InlineData(64, 4)]
    public void ReconstructsTheMatrixFromOrthonormalEigenvectors(int n, int seed)
    {
        double[] a = RandomSymmetric(n, seed);
        var eig = SymmetricEigen.Decompose(a, n);

        Assert.True(MaxAbsDifference(eig.Reconstruct(l => l), a) < 1e-12 * n, "V diag(l) V^T != A");
        var vtv = Multiply(Transpose(eig.Vectors, n), eig.Vectors, n);
        Assert.True(MaxAbsDifference(vtv, Diagonal(Enumerable.Repeat(1.0, n).ToArray())) < 1e-12 * n, "V is not orthonormal");
        for (int j = 1; j < n; j++) Assert.True(eig.Values[j - 1] <= eig.Values[j], "eigenvalues not ascending");
        // Each column satisfies A v = l v.
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++)
            {
                double av = 0;
                for (int k = 0; k < n; k++) av += a[i * n + k] * eig.Vectors[k * n + j];
                Assert.Equal(eig.Values[j] * eig.Vectors[i * n + j], av, 1e-10);
            }
    }

    [Fact]
    public void FindsKnownEigenvaluesIncludingRepeatedOnes()
    {
        // R diag(3, 3, -1, 0.5) R^T for a rotation R mixing all axes.
        int n = 4;
        var r = Multiply(Multiply(Rotation(n, 0, 2, 0.7), Rotation(n, 1, 3, -1.1), n), Rotation(n, 0, 1, 0.3), n);
        var a = Multiply(Multiply(r, Diagonal(3, 3, -1, 0.5), n), Transpose(r, n), n);
        var eig = SymmetricEigen.Decompose(a, n);
        double[] expected = [-1, 0.5, 3, 3];
        for (int i = 0; i < n; i++) Assert.Equal(expected[i], eig.Values[i], 1e-12);
    }

    [Fact]
    public void SquareRootOfAPositiveDefiniteMatrixSquaresBackToIt()
    {
        int n = 32;
        double[] a = RandomSpd(n, 5);
        double[] root = SymmetricEigen.SqrtPsd(a, n);
        Assert.True(MaxAbsDifference(Multiply(root, root, n), a) < 1e-10, "sqrt(A)^2 != A");
        Assert.True(MaxAbsDifference(root, Transpose(root, n)) < 1e-14, "sqrt(A) is not symmetric");
        Assert.All(SymmetricEigen.Decompose(root, n).Values, l => Assert.True(l > 0));
    }

    [Fact]
    public void SquareRootClampsRoundingNegativeEigenvaluesOfARankDeficientMatrix()
    {
        // v v^T has eigenvalues {|v|^2, 0, 0}; rounding can make the zeros slightly negative.
        double[] v = [1, 2, -0.5];
        var a = new double[9];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) a[i * 3 + j] = v[i] * v[j];
        double[] root = SymmetricEigen.SqrtPsd(a, 3);
        Assert.All(root, x => Assert.True(double.IsFinite(x)));
        Assert.True(MaxAbsDifference(Multiply(root, root, 3), a) < 1e-12);
    }

    [Fact]
    public void RejectsNonFiniteAndMisSizedInput()
    {
        Assert.Throws<ArgumentException>(() => SymmetricEigen.Decompose([1, double.NaN, double.NaN, 1], 2));
        Assert.Throws<ArgumentException>(() => SymmetricEigen.Decompose([1, 2, 3], 2));
    }
}
