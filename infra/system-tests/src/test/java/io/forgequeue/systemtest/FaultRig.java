package io.forgequeue.systemtest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import static io.forgequeue.systemtest.ForgeQueueSystem.ALICE_KEY;

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
        return new Watcher(name, () -> {
            List<String> urls = new ArrayList<>(system.liveGatewayUrls());
            String first = system.gateway(preferred).baseUrl();
            if (urls.remove(first)) {
                urls.add(0, first);
            }
            return urls;
        }, ALICE_KEY, workload::acceptedIds);
    }

    Verdict verdict(String scenario, Workload workload, Collection<Watcher> watchers) {
        return Verdict.check(scenario, system, workload, ALICE_KEY, observer, watchers, FaultProfile.settle());
    }

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
