package io.forgequeue.gateway;

import io.forgequeue.gateway.queue.QueueStats;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The fair-share clocks count job sizes, not estimated seconds (docs/scheduling.md, "Order"): identical jobs of two
 * keys alternate even when the pool's measured speed changed between their submissions.
 */
class FairShareIT extends IntegrationTestBase {

    @Autowired
    QueueStats stats;

    /**
     * Regression (found by SchedulingSystemIT, issue 16): the tags were estimated GPU seconds, and a pool without
     * job times estimates at a default, so a key submitting into another key's cold-start backlog got tags far
     * behind all of it (and on a warm pool, estimates seconds apart differed enough to break the alternation).
     */
    @Test
    void identicalJobsOfTwoKeysAlternateEvenWhenThePoolsMeasuredSpeedChangedBetweenTheirSubmissions() {
        String pool = newPool();
        String a = newKey();
        String b = newKey();
        List<UUID> aJobs = submit(a, pool, "early");
        UUID owner = jdbc.queryForObject("select owner_key_id from job where id = ?", UUID.class, aJobs.get(0));
        double defaultEstimate = cost(aJobs.get(0));

        givenFinishedJobsTaking(pool, owner, Duration.ofSeconds(5));
        await().atMost(Duration.ofSeconds(10)).until(() -> stats.secondsPerStandardImage(pool) > 4.9);
        List<UUID> bJobs = submit(b, pool, "later");

        assertThat(cost(bJobs.get(0))).as("the estimate moved with the measured speed").isGreaterThan(4 * defaultEstimate);
        List<UUID> order = List.of(aJobs.get(0), bJobs.get(0), aJobs.get(1), bJobs.get(1), aJobs.get(2), bJobs.get(2));
        List<Integer> positions = new ArrayList<>();
        for (UUID id : order) {
            String key = aJobs.contains(id) ? a : b;
            positions.add(api().get(key, "/api/v1/jobs/" + id).json().get("position").asInt());
        }
        assertThat(positions).as("positions of A1 B1 A2 B2 A3 B3").containsExactly(1, 2, 3, 4, 5, 6);
    }

    private List<UUID> submit(String key, String pool, String prompt) {
        List<UUID> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Api.Response r = api().submit(key, Api.job(pool, prompt + " " + i));
            assertThat(r.status()).as(r.text()).isEqualTo(202);
            ids.add(r.id());
        }
        return ids;
    }

    private double cost(UUID job) {
        return jdbc.queryForObject("select cost from job where id = ?", Double.class, job);
    }

    /** Job history of the pool: three standard images that each took {@code took}. */
    private void givenFinishedJobsTaking(String pool, UUID owner, Duration took) {
        Instant finished = Instant.now();
        for (int i = 0; i < 3; i++) {
            jdbc.update("""
                    insert into job (id, owner_key_id, pool, spec, status, progress, started_at, finished_at)
                    values (?, ?, ?, cast(? as jsonb), 'SUCCEEDED', 100, ?, ?)""", UUID.randomUUID(), owner, pool,
                    "{\"prompt\":\"history\",\"width\":512,\"height\":512,\"steps\":20,\"batchSize\":1}",
                    Timestamp.from(finished.minus(took)), Timestamp.from(finished));
        }
    }
}
