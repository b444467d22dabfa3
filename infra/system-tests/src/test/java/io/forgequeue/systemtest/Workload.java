package io.forgequeue.systemtest;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import tools.jackson.databind.JsonNode;

/**
 * A client population submitting a steady stream of jobs, as real clients would: each job has a unique prompt
 * ({@code <prefix>-<n>}), submissions go round-robin over the gateways that are alive, and a submission that got no
 * answer or a 5xx is retried (on the next gateway) with the same {@code Idempotency-Key} until it is accepted, so
 * the client ends up with exactly one job per prompt. Every answer is recorded. Some jobs are cancelled by their
 * client a moment after submission ({@link Settings#cancelEvery}); the answer of such a cancel is what the client
 * was told. Thread-safe.
 */
final class Workload implements AutoCloseable {

    /** How submissions carry an Idempotency-Key. */
    enum Keys {
        /** Every submission; retries are always safe. */
        ALWAYS,
        /** Every other submission: those without one are retried only after a definite 503 (nothing stored). */
        ALTERNATE
    }

    /** What the stream submits and how fast. */
    record Settings(
            Duration interval,
            int minSteps,
            int maxSteps,
            int size,
            int cancelEvery,
            Keys keys,
            Duration patience,
            boolean retries) {

        static Settings steady(Duration interval) {
            return new Settings(
                    interval, 6, 14, 64, 0, Keys.ALWAYS, Duration.ofSeconds(FaultProfile.LONG ? 300 : 120), true);
        }

        Settings withSteps(int min, int max) {
            return new Settings(interval, min, max, size, cancelEvery, keys, patience, retries);
        }

        Settings withSize(int px) {
            return new Settings(interval, minSteps, maxSteps, px, cancelEvery, keys, patience, retries);
        }

        Settings withCancelEvery(int every) {
            return new Settings(interval, minSteps, maxSteps, size, every, keys, patience, retries);
        }

        Settings withKeys(Keys k) {
            return new Settings(interval, minSteps, maxSteps, size, cancelEvery, k, patience, retries);
        }

        /** Every answer is final: no retry (a flood of an impatient client). */
        Settings withoutRetries() {
            return new Settings(interval, minSteps, maxSteps, size, cancelEvery, keys, patience, false);
        }
    }

    /** One job as its client knows it. */
    static final class Submission {
        final int n;
        final String prompt;
        final boolean idempotent;
        final int steps;
        final List<Integer> answers = Collections.synchronizedList(new ArrayList<>());
        volatile String id;
        volatile boolean replayed;
        volatile Instant acceptedAt;
        /** The status a 200 answer to the client's cancel named (a terminal state), else null. */
        volatile String toldByCancel;

        volatile int cancelAnswer;
        /** Why the client gave up (never accepted), else null. */
        volatile String gaveUp;

        Submission(int n, String prompt, boolean idempotent, int steps) {
            this.n = n;
            this.prompt = prompt;
            this.idempotent = idempotent;
            this.steps = steps;
        }

        boolean accepted() {
            return id != null;
        }
    }

    private final String prefix;
    private final Supplier<List<Http>> gateways;
    private final Settings settings;
    private final Random random;
    private final Map<String, Submission> byPrompt = Collections.synchronizedMap(new LinkedHashMap<>());
    private final Map<Integer, AtomicInteger> answerCounts = new ConcurrentHashMap<>();
    private final List<String> badErrorAnswers = Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger counter = new AtomicInteger();
    private final AtomicInteger roundRobin = new AtomicInteger();
    private final ExecutorService cancels = Executors.newFixedThreadPool(2, daemon("workload-cancel"));
    private final Set<String> terminal = ConcurrentHashMap.newKeySet();
    private volatile boolean running;
    private Thread stream;

    /**
     * @param prefix   start of every prompt; unique per scenario so its jobs can be told from others
     * @param gateways REST clients (with the submitting key) of the gateways to use, asked anew for every attempt
     */
    Workload(String prefix, Supplier<List<Http>> gateways, Settings settings, long seed) {
        this.prefix = prefix;
        this.gateways = gateways;
        this.settings = settings;
        this.random = new Random(seed);
    }

    String prefix() {
        return prefix;
    }

    /** Whether its clients insist until accepted (then a submission never accepted is a failure of the system). */
    boolean expectsAcceptance() {
        return settings.retries();
    }

    /** Starts submitting one job every {@link Settings#interval()} on a thread of its own. */
    Workload start() {
        running = true;
        stream = new Thread(
                () -> {
                    while (running) {
                        submitOne();
                        long pause = settings.interval().toMillis();
                        long end = System.currentTimeMillis() + pause;
                        while (running && System.currentTimeMillis() < end) {
                            AppProcess.sleep(Math.min(50, pause));
                        }
                    }
                },
                "workload-" + prefix);
        stream.setDaemon(true);
        stream.start();
        return this;
    }

    /** Stops the stream (the submission in progress finishes, with its retries) and waits for pending cancels. */
    void stop() {
        running = false;
        if (stream != null) {
            try {
                stream.join(settings.patience().toMillis() + 30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        cancels.shutdown();
        try {
            cancels.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Submits {@code count} jobs right now, one after the other, on the calling thread. */
    void burst(int count) {
        for (int i = 0; i < count; i++) {
            submitOne();
        }
    }

    /** Submits one job and retries until it is accepted, refused, or the client's patience is over. */
    Submission submitOne() {
        return submitOneWithSteps(-1);
    }

    /** Like {@link #submitOne()} with a given number of sampling steps (-1: random within the settings). */
    Submission submitOneWithSteps(int fixedSteps) {
        return submit(fixedSteps, null);
    }

    /** Like {@link #submitOne()}, but only through this gateway (and not retried elsewhere). */
    Submission submitOneVia(Http gateway) {
        return submit(-1, gateway);
    }

    private Submission submit(int fixedSteps, Http only) {
        int n = counter.incrementAndGet();
        String prompt = prefix + "-" + n;
        boolean idempotent = settings.keys() == Keys.ALWAYS || n % 2 == 0;
        int steps = fixedSteps;
        if (steps < 0) {
            synchronized (random) {
                steps = settings.minSteps() + random.nextInt(settings.maxSteps() - settings.minSteps() + 1);
            }
        }
        Submission s = new Submission(n, prompt, idempotent, steps);
        byPrompt.put(prompt, s);
        Map<String, Object> body = ForgeQueueSystem.job(prompt, steps);
        body.put("width", settings.size());
        body.put("height", settings.size());
        Map<String, String> headers = idempotent ? Map.of("Idempotency-Key", prompt) : Map.of();
        long deadline = System.nanoTime() + settings.patience().toNanos();
        while (true) {
            List<Http> live = only != null ? List.of(only) : gateways.get();
            Http.Answer a = live.isEmpty()
                    ? Http.Answer.none("no gateway alive")
                    : live.get(Math.floorMod(roundRobin.getAndIncrement(), live.size()))
                            .attemptPost("/api/v1/jobs", body, headers);
            s.answers.add(a.status());
            answerCounts.computeIfAbsent(a.status(), k -> new AtomicInteger()).incrementAndGet();
            checkErrorAnswer("POST /api/v1/jobs", a);
            if (a.status() == 202) {
                JsonNode job = a.json();
                s.id = job.path("id").asString();
                s.replayed = "true".equals(a.header("Idempotent-Replayed"));
                s.acceptedAt = Instant.now();
                maybeCancel(s);
                return s;
            }
            boolean retry = switch (a.status()) {
                case 0 -> idempotent; // no answer: stored or not, only a keyed retry is safe
                case 502, 503, 504, 429 -> true; // nothing was stored
                case 500 -> idempotent;
                default -> false; // a 4xx: the client's fault, retrying does not help
            };
            if (!retry || !settings.retries() || System.nanoTime() > deadline) {
                s.gaveUp = a.status() == 0 ? "no answer: " + a.text() : "answer " + a.status();
                return s;
            }
            String retryAfter = a.header("Retry-After");
            long pause =
                    retryAfter != null && a.status() == 429 ? Math.min(2000, Long.parseLong(retryAfter) * 1000) : 300;
            AppProcess.sleep(pause);
        }
    }

    private void maybeCancel(Submission s) {
        if (settings.cancelEvery() <= 0 || s.n % settings.cancelEvery() != 0 || cancels.isShutdown()) {
            return;
        }
        long delay;
        synchronized (random) {
            delay = random.nextInt(1200);
        }
        try {
            cancels.execute(() -> {
                AppProcess.sleep(delay);
                List<Http> live = gateways.get();
                if (live.isEmpty()) {
                    return;
                }
                Http.Answer a = live.get(Math.floorMod(s.n, live.size())).attemptDelete("/api/v1/jobs/" + s.id);
                s.cancelAnswer = a.status();
                checkErrorAnswer("DELETE /api/v1/jobs/{id}", a);
                if (a.status() == 200) {
                    s.toldByCancel = a.json().path("status").asString();
                }
            });
        } catch (RuntimeException e) {
            // stream stopping: no cancel
        }
    }

    /** The client cancels one of its jobs now through {@code gateway}; a 200 is what it was told. Returns the answer. */
    Http.Answer cancelNow(Submission s, Http gateway) {
        if (!s.accepted()) {
            return Http.Answer.none("nothing to cancel");
        }
        Http.Answer a = gateway.attemptDelete("/api/v1/jobs/" + s.id);
        s.cancelAnswer = a.status();
        checkErrorAnswer("DELETE /api/v1/jobs/{id}", a);
        if (a.status() == 200) {
            s.toldByCancel = a.json().path("status").asString();
        }
        return a;
    }

    /** Every error answer must be a problem detail without a trace; a 500 is never right. */
    private void checkErrorAnswer(String what, Http.Answer a) {
        if (a.status() < 400) {
            return;
        }
        String problem = ProblemCheck.violation(a);
        if (a.status() >= 500 && a.status() != 502 && a.status() != 503 && a.status() != 504) {
            problem = "status " + a.status() + (problem == null ? "" : "; " + problem);
        }
        if (problem == null && (a.status() == 429 || a.status() == 503) && a.header("Retry-After") == null) {
            problem = a.status() + " without Retry-After";
        }
        if (problem != null) {
            badErrorAnswers.add(what + " -> " + problem + ": " + abbreviate(a.text()));
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 300 ? s.substring(0, 300) + "..." : s;
    }

    /**
     * Waits until every accepted job is in a terminal state (asking any live gateway); returns the ids still not
     * terminal at the deadline.
     */
    Set<String> awaitSettled(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Set<String> open = new java.util.TreeSet<>();
            for (Submission s : submissions()) {
                if (!s.accepted() || terminal.contains(s.id)) {
                    continue;
                }
                List<Http> live = gateways.get();
                if (live.isEmpty()) {
                    open.add(s.id);
                    continue;
                }
                Http.Answer a = live.get(0).attemptGet("/api/v1/jobs/" + s.id);
                if (a.status() == 200 && isTerminal(a.json().path("status").asString())) {
                    terminal.add(s.id);
                } else {
                    open.add(s.id);
                }
            }
            if (open.isEmpty() || System.nanoTime() > deadline) {
                return open;
            }
            AppProcess.sleep(500);
        }
    }

    static boolean isTerminal(String status) {
        return "SUCCEEDED".equals(status) || "FAILED".equals(status) || "CANCELLED".equals(status);
    }

    List<Submission> submissions() {
        synchronized (byPrompt) {
            return List.copyOf(byPrompt.values());
        }
    }

    /** Job ids of the accepted submissions. */
    List<String> acceptedIds() {
        return submissions().stream()
                .filter(Submission::accepted)
                .map(s -> s.id)
                .toList();
    }

    /** How often each HTTP status answered a submission (0 = no answer). */
    Map<Integer, Integer> answerCounts() {
        Map<Integer, Integer> out = new TreeMap<>();
        answerCounts.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    /** Error answers that were a 500, or not a clean problem detail. */
    List<String> badErrorAnswers() {
        synchronized (badErrorAnswers) {
            return List.copyOf(badErrorAnswers);
        }
    }

    @Override
    public void close() {
        running = false;
        cancels.shutdownNow();
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }
}
