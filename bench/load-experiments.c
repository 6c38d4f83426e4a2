// Where libclamav's load time goes, measured outside the scanner (bench/official-scale.sh
// builds and runs this; docs/benchmarks.md, "Official scale"):
//
//   load-experiments main PATH           load and compile PATH on the main thread
//   load-experiments thread PATH         the same on a second thread (a multi-threaded process)
//   load-experiments parallel PATH...    one engine per PATH, each loaded on its own thread
//                                        at the same time (shards of one database)
//
// Prints one JSON object: {"mode": ..., "seconds": wall time, "signatures": total}.
#include <clamav.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct load {
    const char *path;
    unsigned int signatures;
    int status;
};

static double now(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (double)time.tv_sec + (double)time.tv_nsec / 1e9;
}

static void *load_engine(void *argument) {
    struct load *load = argument;
    struct cl_engine *engine = cl_engine_new();
    if (engine == NULL) {
        load->status = CL_EMEM;
        return NULL;
    }
    load->status = cl_load(load->path, engine, &load->signatures, CL_DB_STDOPT);
    if (load->status == CL_SUCCESS) load->status = cl_engine_compile(engine);
    // The engine is kept: freeing it would add its teardown to the figure.
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s main|thread|parallel PATH...\n", argv[0]);
        return 2;
    }
    if (cl_init(CL_INIT_DEFAULT) != CL_SUCCESS) return 1;
    const char *mode = argv[1];
    int count = argc - 2;
    struct load *loads = calloc((size_t)count, sizeof *loads);
    pthread_t *threads = calloc((size_t)count, sizeof *threads);
    if (loads == NULL || threads == NULL) return 1;
    for (int index = 0; index < count; index++) loads[index].path = argv[index + 2];

    double started = now();
    if (argv[1][0] == 'm') {
        for (int index = 0; index < count; index++) load_engine(&loads[index]);
    } else {
        int together = argv[1][0] == 'p';
        for (int index = 0; index < count; index++) {
            if (pthread_create(&threads[index], NULL, load_engine, &loads[index]) != 0) return 1;
            if (!together) pthread_join(threads[index], NULL);
        }
        if (together)
            for (int index = 0; index < count; index++) pthread_join(threads[index], NULL);
    }
    double seconds = now() - started;

    unsigned int signatures = 0;
    for (int index = 0; index < count; index++) {
        if (loads[index].status != CL_SUCCESS) {
            fprintf(stderr, "%s: %s\n", loads[index].path, cl_strerror(loads[index].status));
            return 1;
        }
        signatures += loads[index].signatures;
    }
    printf("{\"mode\": \"%s\", \"seconds\": %.3f, \"signatures\": %u}\n", mode, seconds, signatures);
    return 0;
}
