package io.forgequeue.forgesim;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * Not a test: a sequential-client throughput probe. Start a sim first
 * ({@code java -jar target/forge-sim-0.1.0-SNAPSHOT.jar --port 7861 --step-ms 0 --model-load-ms 0}), then run
 * {@code java -cp target/test-classes:target/classes:<jackson jars> io.forgequeue.forgesim.ForgeSimBenchmark
 * http://127.0.0.1:7861 5000 64}. Prints calls per second and latency percentiles.
 */
public final class ForgeSimBenchmark {

    private ForgeSimBenchmark() {}

    public static void main(String[] args) throws Exception {
        URI base = URI.create(args.length > 0 ? args[0] : "http://127.0.0.1:7861");
        int calls = args.length > 1 ? Integer.parseInt(args[1]) : 5000;
        int size = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        HttpRequest request = HttpRequest.newBuilder(base.resolve("/sdapi/v1/txt2img"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"a lighthouse at dusk\",\"steps\":20,\"width\":"
                        + size + ",\"height\":" + size + ",\"seed\":-1}"))
                .build();
        for (int i = 0; i < Math.min(2000, calls); i++) {
            check(http.send(request, HttpResponse.BodyHandlers.ofByteArray()));
        }
        long[] latencies = new long[calls];
        long bytes = 0;
        long start = System.nanoTime();
        for (int i = 0; i < calls; i++) {
            long t = System.nanoTime();
            HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
            latencies[i] = System.nanoTime() - t;
            check(response);
            bytes += response.body().length;
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        java.util.Arrays.sort(latencies);
        System.out.printf(
                "%d sequential txt2img calls (%dx%d) in %.2f s: %.0f calls/s, %.1f KiB/answer, latency p50 %.0f us, p99 %.0f us, max %.0f us%n",
                calls,
                size,
                size,
                seconds,
                calls / seconds,
                bytes / 1024.0 / calls,
                latencies[calls / 2] / 1e3,
                latencies[(int) (calls * 0.99)] / 1e3,
                latencies[calls - 1] / 1e3);
    }

    private static void check(HttpResponse<byte[]> response) {
        if (response.statusCode() != 200) {
            throw new IllegalStateException("status " + response.statusCode() + ": " + new String(response.body()));
        }
    }
}
