package io.forgequeue.systemtest;

import static io.forgequeue.systemtest.ForgeQueueSystem.ALICE_KEY;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A running system plus the test's instruments: the broker observer, and factories for workloads, live clients and
 * the end-of-scenario {@link Verdict}. One per test class, shared by its scenarios (which run one after the other
 * and each wait until their jobs are finished).
 */
final class FaultRig implements AutoCloseable {

    final ForgeQueueSystem system;
    final BrokerObserver observer;
    private long seed = 20261122L;

    FaultRig(ForgeQueueSystem.Builder builder) {
        this.system = builder.start();
        BrokerObserver o;
        try {
            o = new BrokerObserver(system.rabbit(), system.name());
        } catch (RuntimeException e) {
            system.close();
            throw e;
        }
        this.observer = o;
    }

    /** A stream of alice's jobs over every live gateway. */
    Workload workload(String prefix, Workload.Settings settings) {
        return new Workload(prefix, () -> system.liveHttp(ALICE_KEY), settings, seed++);
    }

    /** A live client of alice's that prefers gateway {@code preferred} and falls back to any other live one. */
    Watcher watcher(String name, int preferred, Workload workload) {
        return new Watcher(
                name,
                () -> {
                    List<String> urls = new ArrayList<>(system.liveGatewayUrls());
                    String first = system.gateway(preferred).baseUrl();
                    if (urls.remove(first)) {
                        urls.add(0, first);
                    }
                    return urls;
                },
                ALICE_KEY,
                workload::acceptedIds);
    }

    Verdict verdict(String scenario, Workload workload, Collection<Watcher> watchers) {
        return Verdict.check(scenario, system, workload, ALICE_KEY, observer, watchers, FaultProfile.settle());
    }

    /** A job assigned to a worker, as its row says: RUNNING (it runs it) or QUEUED (its lookahead, not started). */
    record Assignment(String jobId, String status, int attempt) {}

    /** The jobs assigned to {@code worker} now, oldest assignment first (read-only SQL). */
    List<Assignment> assignmentsOf(AppProcess worker) {
        return system.sql("""
                        select id::text as id, status, attempt from job where assigned_worker = ?
                        order by assigned_at""", worker.name()).stream()
                .map(row -> new Assignment(
                        (String) row.get("id"), (String) row.get("status"), ((Number) row.get("attempt")).intValue()))
                .toList();
    }

    /**
     * Waits until {@code worker} holds exactly two assignments, one it runs and one waiting behind it (the scheduler's
     * lookahead), and returns them [running, assigned]; fails after {@code timeout}. Meant for a worker whose Forge
     * holds its job ({@code holdNext}), so the running one stays running.
     */
    Assignment[] awaitRunningAndAssigned(AppProcess worker, Duration timeout) {
        Assignment[] pair = new Assignment[2];
        boolean held = BrokerObserver.waitFor(timeout, () -> {
            List<Assignment> now = assignmentsOf(worker);
            Assignment running = now.stream()
                    .filter(a -> a.status().equals("RUNNING"))
                    .findFirst()
                    .orElse(null);
            Assignment waiting = now.stream()
                    .filter(a -> a.status().equals("QUEUED"))
                    .findFirst()
                    .orElse(null);
            pair[0] = running;
            pair[1] = waiting;
            return now.size() == 2 && running != null && waiting != null;
        });
        if (!held) {
            throw new AssertionError("worker " + worker.name() + " never held a running and an assigned job within "
                    + timeout + " (holds " + assignmentsOf(worker) + ")");
        }
        return pair;
    }

    /** Events refused by the merge ({@code gpu_gateway_events_rejected_total}), by reason, over the live gateways. */
    Map<String, Double> rejectedByReason() {
        Map<String, Double> out = new LinkedHashMap<>();
        for (String reason : REJECTION_REASONS) {
            double sum = 0;
            for (String gateway : system.liveGatewayManagementUrls()) {
                sum += Prometheus.sum(gateway, "gpu_gateway_events_rejected_total", Map.of("reason", reason));
            }
            out.put(reason, sum);
        }
        return out;
    }

    /** What {@link #rejectedByReason()} counted since {@code before}, without the reasons that did not grow. */
    Map<String, Long> rejectedSince(Map<String, Double> before) {
        Map<String, Long> out = new LinkedHashMap<>();
        rejectedByReason().forEach((reason, now) -> {
            long d = Math.round(now - before.getOrDefault(reason, 0.0));
            if (d != 0) {
                out.put(reason, d);
            }
        });
        return out;
    }

    /** The reasons the merge gives for refusing an event (EventMerger.Outcome). */
    static final List<String> REJECTION_REASONS = List.of(
            "duplicate",
            "terminal",
            "stale-attempt",
            "revoked",
            "unknown-assignment",
            "illegal-transition",
            "unknown-job");

    static void sleep(Duration d) {
        AppProcess.sleep(d.toMillis());
    }

    @Override
    public void close() {
        try {
            observer.close();
        } finally {
            system.close();
        }
    }
}
