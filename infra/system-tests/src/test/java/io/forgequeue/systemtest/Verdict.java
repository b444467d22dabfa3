package io.forgequeue.systemtest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import tools.jackson.databind.JsonNode;

/**
 * The end-of-scenario check shared by every fault scenario, and its figures. Of the jobs a {@link Workload}'s
 * clients submitted it establishes, from the public API, the database (read-only SQL), the broker observer and the
 * live WebSocket clients:
 * <ul>
 *   <li><b>lost</b>: accepted (202) but missing or not in a terminal state at the end;</li>
 *   <li><b>duplicated</b>: more than one job row for one client submission (prompt), more than one move into a
 *       terminal state in the job's state history, or more stored images than the job asked for;</li>
 *   <li>consistency: every terminal state a client was told (a 200 to its cancel, a WebSocket frame) is the
 *       final one; no history row after the terminal one; a SUCCEEDED job has exactly its images stored and the
 *       observer saw at least one SUCCEEDED event for it; every live client was told every terminal state;</li>
 *   <li>nothing stuck: no job is QUEUED or assigned to a worker any more (the job rows are the queue; the
 *       workers' own queues are exclusive to them), {@code forge.events.persist} is empty, every outbox entry is
 *       sent;</li>
 *   <li>every error answer a client got was a clean problem detail, and never a 500.</li>
 * </ul>
 * "SUCCEEDED twice" counts jobs for which the observer saw more than one distinct SUCCEEDED event (distinct
 * attempt/seq), i.e. Forge finished the job more than once. With the scheduler's fencing that happens only where a
 * worker that lost its assignment still finishes it (a frozen worker whose Forge completed the job during the
 * freeze): a scenario must allow it explicitly ({@link #allowCompletedTwice}), else it is a violation; where allowed
 * it is acceptable only because the checks above prove a single stored result.
 */
final class Verdict {

    final String scenario;
    int submitted;
    int succeeded;
    int cancelled;
    int lost;
    int duplicated;
    int succeededTwice;
    int lateCompletionsIgnored;
    int redelivered;
    final Map<String, Integer> failedByCode = new TreeMap<>();
    final Map<String, JsonNode> finalViews = new LinkedHashMap<>();
    final List<String> violations = new ArrayList<>();
    final List<String> notes = new ArrayList<>();
    Map<Integer, Integer> answers = Map.of();
    /** Why this scenario may see a job completed twice on a GPU (stored once), or null: it must not. */
    private String ranTwiceBecause;

    private Verdict(String scenario) {
        this.scenario = scenario;
    }

    /**
     * Waits (at most {@code settle}) for every accepted job to finish, then checks everything listed above.
     *
     * @param key the API key the workload submitted with
     */
    static Verdict check(
            String scenario,
            ForgeQueueSystem system,
            Workload workload,
            String key,
            BrokerObserver observer,
            Collection<Watcher> watchers,
            Duration settle) {
        Verdict v = new Verdict(scenario);
        workload.awaitSettled(settle);
        v.answers = workload.answerCounts();

        Map<String, Workload.Submission> byId = new HashMap<>();
        for (Workload.Submission s : workload.submissions()) {
            if (s.accepted()) {
                byId.put(s.id, s);
            } else if (workload.expectsAcceptance()) {
                v.violations.add("client gave up on " + s.prompt + " (" + s.gaveUp + ")");
            }
        }
        v.submitted = byId.size();

        // 1. what the API says now
        for (Workload.Submission s : workload.submissions()) {
            if (!s.accepted()) {
                continue;
            }
            Http.Answer a = get(system, key, "/api/v1/jobs/" + s.id);
            if (a.status() != 200) {
                v.lost++;
                v.violations.add("job " + s.id + " (" + s.prompt + ") accepted but GET answers " + a.status());
                continue;
            }
            JsonNode job = a.json();
            v.finalViews.put(s.id, job);
            String status = job.path("status").asString();
            switch (status) {
                case "SUCCEEDED" -> v.succeeded++;
                case "CANCELLED" -> v.cancelled++;
                case "FAILED" ->
                    v.failedByCode.merge(job.path("error").path("code").asString("?"), 1, Integer::sum);
                default -> {
                    v.lost++;
                    v.violations.add("job " + s.id + " still " + status + " at the end (attempt "
                            + job.path("attempt").asInt() + ")");
                }
            }
            if (job.path("attempt").asInt() > 1) {
                v.redelivered++;
            }
            if (s.toldByCancel != null && Workload.isTerminal(s.toldByCancel) && !s.toldByCancel.equals(status)) {
                v.violations.add(
                        "job " + s.id + ": its cancel answered 200 " + s.toldByCancel + " but it ended " + status);
            }
        }

        // 2. what is stored
        Set<String> duplicatedJobs = new TreeSet<>();
        Map<String, List<String>> rowsByPrompt = new HashMap<>();
        for (Map<String, Object> row : system.sql("""
                select job.id::text as id, job.spec->>'prompt' as prompt, job.status,
                       coalesce((job.spec->>'batchSize')::int, 1) as batch,
                       jsonb_array_length(job.images) as described,
                       (select count(*) from job_image i where i.job_id = job.id) as stored,
                       (select count(*) from job_state_history h where h.job_id = job.id
                            and h.to_status in ('SUCCEEDED', 'FAILED', 'CANCELLED')) as terminal_moves,
                       (select count(*) from job_state_history h where h.job_id = job.id and h.id >
                            (select min(t.id) from job_state_history t where t.job_id = job.id
                                 and t.to_status in ('SUCCEEDED', 'FAILED', 'CANCELLED'))) as after_terminal
                from job where starts_with(job.spec->>'prompt', ?)""", workload.prefix() + "-")) {
            String id = (String) row.get("id");
            String prompt = (String) row.get("prompt");
            rowsByPrompt.computeIfAbsent(prompt, k -> new ArrayList<>()).add(id);
            long terminalMoves = ((Number) row.get("terminal_moves")).longValue();
            long afterTerminal = ((Number) row.get("after_terminal")).longValue();
            long stored = ((Number) row.get("stored")).longValue();
            long described = ((Number) row.get("described")).longValue();
            long batch = ((Number) row.get("batch")).longValue();
            String status = (String) row.get("status");
            if (terminalMoves > 1) {
                duplicatedJobs.add(id);
                v.violations.add("job " + id + " moved into a terminal state " + terminalMoves + " times");
            }
            if (afterTerminal > 0) {
                v.violations.add("job " + id + " has " + afterTerminal + " state change(s) after its terminal state");
            }
            if ("SUCCEEDED".equals(status) && (stored != batch || described != batch)) {
                if (stored > batch || described > batch) {
                    duplicatedJobs.add(id);
                }
                v.violations.add("job " + id + " SUCCEEDED with " + stored + " stored / " + described
                        + " described images for a batch of " + batch);
            }
            if (!"SUCCEEDED".equals(status) && (stored != 0 || described != 0)) {
                v.violations.add("job " + id + " is " + status + " but has " + stored + " stored images");
            }
        }
        for (Map.Entry<String, List<String>> e : rowsByPrompt.entrySet()) {
            Workload.Submission s = workload.submissions().stream()
                    .filter(x -> x.prompt.equals(e.getKey()))
                    .findFirst()
                    .orElse(null);
            if (e.getValue().size() > 1) {
                duplicatedJobs.addAll(e.getValue());
                v.violations.add("submission " + e.getKey() + " stored as "
                        + e.getValue().size() + " jobs " + e.getValue());
            }
            if (s == null || !s.accepted()) {
                v.violations.add("job(s) " + e.getValue() + " stored for " + e.getKey()
                        + " although its client was never told it was accepted");
            } else if (!e.getValue().contains(s.id)) {
                v.violations.add("submission " + e.getKey() + " was answered with job " + s.id + " but stored as "
                        + e.getValue());
            }
        }
        for (String id : byId.keySet()) {
            if (!rowsByPrompt.containsKey(byId.get(id).prompt)) {
                v.violations.add("job " + id + " accepted but has no row");
            }
        }
        v.duplicated = duplicatedJobs.size();

        // 3. what the workers reported (broker observer)
        Map<String, Integer> succeededEvents = observer.succeededEventsPerJob();
        for (String id : byId.keySet()) {
            int events = succeededEvents.getOrDefault(id, 0);
            JsonNode view = v.finalViews.get(id);
            String status = view == null ? null : view.path("status").asString();
            if (events > 1) {
                v.succeededTwice++;
            }
            if ("SUCCEEDED".equals(status) && events == 0) {
                v.violations.add("job " + id + " is SUCCEEDED but no worker published a SUCCEEDED event for it");
            }
            if (!"SUCCEEDED".equals(status) && events > 0) {
                v.lateCompletionsIgnored++;
            }
        }

        // 4. what the live clients were told
        for (Watcher w : watchers) {
            Set<String> missing = w.awaitTerminal(byId.keySet(), Duration.ofSeconds(20));
            if (!missing.isEmpty()) {
                StringBuilder examples = new StringBuilder();
                missing.stream().limit(5).forEach(id -> {
                    JsonNode view = v.finalViews.get(id);
                    Watcher.Seen seen = w.seen(id);
                    examples.append(' ')
                            .append(id)
                            .append(" (")
                            .append(view == null ? "?" : view.path("status").asString())
                            .append(", client saw ")
                            .append(seen == null ? "nothing" : seen.status + " v" + seen.version)
                            .append(')');
                });
                v.violations.add("live client " + w.name() + " was never told the terminal state of " + missing.size()
                        + " job(s):" + examples);
            }
            for (String c : w.conflicts()) {
                v.violations.add("live client " + w.name() + " conflict: " + c);
            }
            for (String id : byId.keySet()) {
                String told = w.terminalOf(id);
                JsonNode view = v.finalViews.get(id);
                if (told != null
                        && view != null
                        && !told.equals(view.path("status").asString())) {
                    v.violations.add("live client " + w.name() + " was told " + id + " is " + told + " but it is "
                            + view.path("status").asString());
                }
            }
        }

        // 5. nothing stuck: the job rows are the queue; the workers' own queues are exclusive to them (and empty once
        // no job is assigned)
        if (!BrokerObserver.waitFor(
                Duration.ofSeconds(20),
                () -> system.sqlLong("select count(*) from job where status = 'QUEUED' or assigned_worker is not null")
                        == 0)) {
            for (Map<String, Object> row : system.sql("""
                    select id::text as id, status, attempt, assigned_worker from job
                    where status = 'QUEUED' or assigned_worker is not null order by ticket limit 10""")) {
                v.violations.add("job " + row.get("id") + " still " + row.get("status") + " at the end (attempt "
                        + row.get("attempt") + ", assigned to " + row.get("assigned_worker") + ")");
            }
        }
        if (!BrokerObserver.waitFor(
                Duration.ofSeconds(20), () -> observer.readyMessages("forge.events.persist") == 0)) {
            v.violations.add(
                    "forge.events.persist still holds " + observer.readyMessages("forge.events.persist") + " event(s)");
        }
        if (!BrokerObserver.waitFor(
                Duration.ofSeconds(20),
                () -> system.sqlLong("select count(*) from outbox where sent_at is null") == 0)) {
            v.violations.add(
                    system.sqlLong("select count(*) from outbox where sent_at is null") + " outbox entries unsent");
        }

        // 6. what the clients were answered
        for (String bad : workload.badErrorAnswers()) {
            v.violations.add("bad error answer: " + bad);
        }
        return v;
    }

    private static Http.Answer get(ForgeQueueSystem system, String key, String path) {
        Http.Answer last = Http.Answer.none("no gateway alive");
        for (Http http : system.liveHttp(key)) {
            last = http.attemptGet(path);
            if (!last.noAnswer() && last.status() != 503) {
                return last;
            }
        }
        return last;
    }

    /** Adds a violation unless the jobs failed exactly with these codes and counts. */
    Verdict expectFailures(Map<String, Integer> expected) {
        if (!failedByCode.equals(new TreeMap<>(expected))) {
            violations.add("failures by code " + failedByCode + ", expected " + new TreeMap<>(expected));
        }
        return this;
    }

    /**
     * Allows jobs completed twice on a GPU (more than one SUCCEEDED event, stored once) in this scenario, for the
     * reason given: only where the fault makes it inevitable (a frozen worker's Forge finishes the attempt it was
     * running while the worker is frozen, and the job also runs elsewhere).
     */
    Verdict allowCompletedTwice(String because) {
        ranTwiceBecause = because;
        return this;
    }

    Verdict note(String text) {
        notes.add(text);
        return this;
    }

    Verdict violation(String text) {
        violations.add(text);
        return this;
    }

    /** Adds a violation unless {@code condition} holds. */
    Verdict require(boolean condition, String what) {
        if (!condition) {
            violations.add(what);
        }
        return this;
    }

    /** The figures of the summary line. */
    String figures() {
        int failed = failedByCode.values().stream().mapToInt(Integer::intValue).sum();
        return "submitted " + submitted + ", succeeded " + succeeded + ", failed " + failed
                + (failed == 0 ? "" : " " + failedByCode) + ", cancelled " + cancelled + ", lost " + lost
                + ", duplicated " + duplicated;
    }

    /** Details after the figures: redeliveries, double completions, HTTP answers, scenario notes. */
    String details() {
        List<String> parts = new ArrayList<>();
        if (redelivered > 0) {
            parts.add("redelivered " + redelivered);
        }
        if (succeededTwice > 0) {
            parts.add("SUCCEEDED twice (stored once) " + succeededTwice
                    + (ranTwiceBecause == null ? "" : " (" + ranTwiceBecause + ")"));
        }
        if (lateCompletionsIgnored > 0) {
            parts.add("late SUCCEEDED ignored " + lateCompletionsIgnored);
        }
        Map<Integer, Integer> nonAccepted = new TreeMap<>(answers);
        nonAccepted.remove(202);
        if (!nonAccepted.isEmpty()) {
            parts.add("other submit answers " + nonAccepted);
        }
        parts.addAll(notes);
        return String.join("; ", parts);
    }

    /** Records the figures in the suite summary, then fails if anything was violated. */
    void reportAndAssert() {
        if (succeededTwice > 0 && ranTwiceBecause == null) {
            violations.add(succeededTwice + " job(s) completed twice (more than one SUCCEEDED event; stored once)");
        }
        ReliabilitySummary.record(figures(), details());
        if (!violations.isEmpty() || lost > 0 || duplicated > 0) {
            StringBuilder sb = new StringBuilder(scenario + ": " + figures() + "\n");
            violations.stream()
                    .limit(40)
                    .forEach(x -> sb.append("  - ").append(x).append('\n'));
            if (violations.size() > 40) {
                sb.append("  ... and ").append(violations.size() - 40).append(" more\n");
            }
            throw new AssertionError(sb.toString());
        }
    }
}
