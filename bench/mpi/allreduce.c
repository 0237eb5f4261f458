/* The anchor for `catchup bench allreduce`: the same in-place float32 sum MPI_Allreduce, timed the same way
 * (5 warm-up calls, a barrier before each call, the median per rank, the maximum over ranks), in plain C.
 * Build and run: bench/mpi/allreduce.sh. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int floats = argc > 1 ? atoi(argv[1]) : 2211777, repeats = argc > 2 ? atoi(argv[2]) : 50;
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    float *buffer = malloc(sizeof(float) * (size_t)floats);
    double *times = malloc(sizeof(double) * (size_t)repeats);
    for (int i = -5; i < repeats; i++) {
        for (int j = 0; j < floats; j++) buffer[j] = (float)(rank + 1);
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buffer, floats, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (i >= 0) times[i] = MPI_Wtime() - start;
    }
    float expected = size * (size + 1) / 2.0f;
    for (int j = 0; j < floats; j++)
        if (buffer[j] != expected) { fprintf(stderr, "wrong sum\n"); MPI_Abort(MPI_COMM_WORLD, 1); }
    qsort(times, (size_t)repeats, sizeof(double), cmp);
    double median = repeats % 2 ? times[repeats / 2] : (times[repeats / 2 - 1] + times[repeats / 2]) / 2, slowest;
    MPI_Reduce(&median, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("{\"bench\":\"allreduce-c\",\"ranks\":%d,\"floats\":%d,\"mb\":%.3f,\"repeats\":%d,\"median_ms\":%.4f,\"gb_per_s\":%.3f}\n",
               size, floats, floats * 4.0 / 1e6, repeats, slowest * 1e3, floats * 4.0 / slowest / 1e9);
    free(buffer);
    free(times);
    MPI_Finalize();
    return 0;
}
