package io.forgequeue.bench;

import io.forgequeue.testsupport.FreePort;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.RabbitEndpoint;
import java.net.http.HttpClient;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The scheduler at internet scale, by simulation (issue 21): two real gateways (from the packaged jar) on the
 * benchmark's broker and PostgreSQL, {@link SimFleet} workers speaking the real worker protocol, 1,000 API keys with
 * a Zipf-like submission mix, 5 checkpoints.
 *
 * <ol>
 *   <li><b>burst</b>: 100,000 jobs queued at once (one SQL statement that mimics the submit statement, see
 *       {@link #insertBurst}), then the fleet arrives; the initial fill gives the hand-outs per second the scheduler
 *       sustains, a window at the fleet's capacity gives the decision latency, statements and rows per hand-out
 *       (pg_stat_statements), the leader's memory, the position push cost (WebSocket clients watching waiting
 *       jobs), fairness (Jain's index over backlogged keys) and the useful GPU share;</li>
 *   <li><b>failover</b>: SIGKILL of the leader under that load; the time until the other gateway hands out;</li>
 *   <li><b>steady</b>: the backlog withdrawn, jobs submitted through the REST API at the fleet's capacity (Zipf over
 *       the keys), one window of the same figures.</li>
 * </ol>
 */
final class ScaleScenario {

    static final String POOL = "default";
    private static final List<String> ALL_CHECKPOINTS = List.of(
            "sdxl_base",
            "juggernaut_xl",
            "dreamshaper_8",
            "realvis_v4",
            "pony_xl",
            "flux_dev",
            "sd15_base",
            "animagine_xl");
    /** Which checkpoint a key mostly uses: popular models are popular (shares of the keys). */
    private static final double[] CHECKPOINT_POPULARITY = {0.40, 0.25, 0.15, 0.12, 0.08, 0.05, 0.03, 0.02};
    /** Real GPU seconds per step of a 512x512 image, and per checkpoint load (before the time factor). */
    static final double SECONDS_PER_STEP = 0.25;

    static final double LOAD_SECONDS = 10;
    /** Steps of a job: uniform in [MIN_STEPS, MAX_STEPS]; a job's cost is steps / 20 standard images. */
    static final int MIN_STEPS = 20;

    static final int MAX_STEPS = 40;

    private final BenchContext ctx;
    private final ScaleOptions o;
    private final String runId = UUID.randomUUID().toString().substring(0, 6);
    private final List<String> checkpoints;
    private final List<UUID> keyIds = new ArrayList<>();
    private final List<String> rawKeys = new ArrayList<>();
    private final double[] keyShare;
    private RabbitEndpoint rabbit;
    private PostgresEndpoint postgres;
    private final List<AppProcess> gateways = new ArrayList<>();

    private ScaleScenario(BenchContext ctx, ScaleOptions o) {
        this.ctx = ctx;
        this.o = o;
        this.checkpoints = ALL_CHECKPOINTS.subList(0, Math.min(ALL_CHECKPOINTS.size(), Math.max(1, o.checkpoints())));
        this.keyShare = zipf(o.keys(), o.zipf());
    }

    static List<ScenarioResult> run(BenchContext ctx, ScaleOptions o) {
        return new ScaleScenario(ctx, o).run();
    }

    private List<ScenarioResult> run() {
        List<ScenarioResult> results = new ArrayList<>();
        ctx.servers().enableStatementStatistics();
        String vhost = "bench_scale_" + runId;
        RabbitEndpoint broker = ctx.servers().rabbit();
        ctx.rabbitAdmin().createVhost(vhost, broker.username());
        rabbit = new RabbitEndpoint(
                broker.host(), broker.port(), broker.username(), broker.password(), broker.managementPort(), vhost);
        postgres = ctx.servers().postgres().withFreshDatabase("bench_scale");
        SimFleet fleet = null;
        List<WsClient> sockets = new ArrayList<>();
        HttpClient wsHttp = HttpClient.newHttpClient();
        try {
            gateways.add(launchGateway(1));
            gateways.add(launchGateway(2));
            gateways.forEach(g -> g.awaitReady(Duration.ofSeconds(600))); // slow on a loaded 2-core machine
            sql("create extension if not exists pg_stat_statements");
            createKeys();
            System.out.printf(
                    "  2 gateways up, %d keys; queuing %,d jobs at once (one SQL statement) ...%n", o.keys(), o.jobs());
            ScenarioResult burst = new ScenarioResult("scale-burst", "current");
            burst.detail("options", o.describe());
            long t0 = System.nanoTime();
            int inserted = insertBurst();
            double insertSeconds = (System.nanoTime() - t0) / 1e9;
            double indexSeconds = awaitQueued(gateways.get(0), inserted, Duration.ofSeconds(300));
            System.out.printf(
                    "  %,d jobs inserted in %.1f s; gateway's index shows them %.1f s after the start%n",
                    inserted, insertSeconds, indexSeconds);
            burst.detail("burstInsertSeconds", insertSeconds).detail("indexLoadedSeconds", indexSeconds);
            AppProcess leader = leader();
            sockets.addAll(connectWatchers(wsHttp, leader));
            burst.detail("wsClients", sockets.size());

            double secondsPerJob = (MIN_STEPS + MAX_STEPS) / 2.0 * SECONDS_PER_STEP * o.timeFactor();
            String fleetStart = sqlText("select now()::text");
            fleet = SimFleet.start(
                    new SimFleet.Config(
                            o.workers(),
                            POOL,
                            checkpoints,
                            List.of("Euler a", "DPM++ 2M"),
                            SECONDS_PER_STEP,
                            LOAD_SECONDS,
                            o.timeFactor(),
                            Math.max(1, Math.min(10, o.workers() / 50)),
                            1000),
                    rabbit,
                    runId);
            System.out.printf(
                    "  %d simulated workers started (jobs take %.0f s on average with the time factor %.1f, "
                            + "checkpoint loads %.0f s): capacity %.1f jobs/s%n",
                    o.workers(),
                    secondsPerJob,
                    o.timeFactor(),
                    LOAD_SECONDS * o.timeFactor(),
                    o.workers() / secondsPerJob);
            // the fill: one job for every idle worker (the lookahead slots follow as placement allows: a job is
            // not switched onto a worker while another that has its checkpoint loaded would start it sooner)
            // the fill from an idle fleet: the scheduler's own pace shows in the busiest second (the rest of the fill
            // also waits for placement: an idle worker is not given a switch while another worker that has the
            // checkpoint loaded would start the job sooner, gateway.scheduler.affinity.*)
            int slots = o.workers();
            double fillSeconds = awaitHandouts(fleetStart, slots, Duration.ofSeconds(120));
            String peak = sqlText("select count(*)::text from job where assigned_worker is not null and assigned_at > "
                    + "cast('" + fleetStart + "' as timestamptz) group by date_trunc('second', assigned_at) "
                    + "order by count(*) desc limit 1");
            double peakRate = peak == null ? Double.NaN : Double.parseDouble(peak);
            System.out.printf(
                    "  fill: %d hand-outs in %.2f s from the first; busiest second %.0f hand-outs%n",
                    slots, fillSeconds, peakRate);
            burst.figure(Figure.of("scale-burst", "hand-outs in the busiest second of the fill", peakRate, "/s"));
            burst.figure(Figure.of("scale-burst", "fill: seconds to one job per worker", fillSeconds, "s"));
            burst.detail("fillSeconds", fillSeconds);
            sleep(o.warmupSeconds());
            window(burst, leader, fleet, sockets.size() > 0, true);
            results.add(burst);

            if (o.failover() && gateways.size() == 2) {
                ScenarioResult fo = failover(leader);
                results.add(fo);
                sockets.forEach(WsClient::close);
                sockets.clear();
            }
            if (o.steady()) {
                results.add(steady(fleet));
            }
            return results;
        } finally {
            sockets.forEach(WsClient::close);
            if (fleet != null) {
                fleet.close();
            }
            gateways.forEach(g -> g.stop(Duration.ofSeconds(20)));
            try {
                ctx.rabbitAdmin().deleteVhost(vhost);
            } catch (RuntimeException e) {
                System.err.println("could not delete virtual host " + vhost + ": " + e.getMessage());
            }
            try (Connection c = ctx.servers().postgres().connect();
                    Statement s = c.createStatement()) {
                s.execute("DROP DATABASE IF EXISTS \"" + postgres.database() + "\" WITH (FORCE)");
            } catch (Exception e) {
                System.err.println("could not drop database " + postgres.database() + ": " + e.getMessage());
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ the window

    /**
     * One measured window on the leader: decision latency, hand-outs/s, statements and rows per hand-out, memory,
     * push cost, fairness, useful share.
     */
    private void window(ScenarioResult r, AppProcess leader, SimFleet fleet, boolean watched, boolean burst) {
        String s = r.scenario();
        long gwPid = leader.pid();
        resetStatements();
        PromPage before = PromPage.scrape(leader.managementUrl());
        SimFleet.Stats fleetBefore = fleet.stats();
        long schedTicks0 = ProcStats.threadTicks(gwPid, n -> n.equals("scheduler"));
        long gwTicks0 = ProcStats.cpuTicks(gwPid);
        long busy0 = ProcStats.machineBusyTicks();
        double load0 = ProcStats.loadAverage();
        String windowStart = sqlText("select now()::text");
        long t0 = System.nanoTime();
        sleep(o.windowSeconds());
        double seconds = (System.nanoTime() - t0) / 1e9;
        String windowEnd = sqlText("select now()::text");
        PromPage after = PromPage.scrape(leader.managementUrl());
        SimFleet.Stats fleetAfter = fleet.stats();
        long schedTicks = ProcStats.threadTicks(gwPid, n -> n.equals("scheduler")) - schedTicks0;
        long gwTicks = ProcStats.cpuTicks(gwPid) - gwTicks0;
        double machineCores = (ProcStats.machineBusyTicks() - busy0) / ProcStats.TICKS_PER_SECOND / seconds;
        Map<String, Object> statements = readStatements();

        String h = "gpu_gateway_scheduler_handouts_seconds";
        double handouts = after.sum(h + "_count") - before.sum(h + "_count");
        TreeMap<Double, Double> b0 = before.buckets(h);
        TreeMap<Double, Double> b1 = after.buckets(h);
        double p50 = PromPage.quantile(0.50, b0, b1) * 1000;
        double p99 = PromPage.quantile(0.99, b0, b1) * 1000;
        double max = after.max(h + "_max") * 1000;
        double mean = handouts == 0 ? Double.NaN : (after.sum(h + "_sum") - before.sum(h + "_sum")) / handouts * 1000;
        double rate = handouts / seconds;
        System.out.printf(
                "  %s window %.0f s: %.0f hand-outs (%.1f/s); decision p50 %.2f ms, p99 %.2f ms, max %.1f ms%n",
                s, seconds, handouts, rate, p50, p99, max);
        String pk = "gpu_gateway_scheduler_picks_seconds";
        double pickP50 = PromPage.quantile(0.50, before.buckets(pk), after.buckets(pk)) * 1000;
        double pickP99 = PromPage.quantile(0.99, before.buckets(pk), after.buckets(pk)) * 1000;
        System.out.printf(
                "  of which the in-memory pick: p50 %.3f ms, p99 %.3f ms (max %.1f ms)%n",
                pickP50, pickP99, after.max(pk + "_max") * 1000);
        String cm = "gpu_gateway_scheduler_commits_seconds";
        double commitP50 = PromPage.quantile(0.50, before.buckets(cm), after.buckets(cm)) * 1000;
        double commitP99 = PromPage.quantile(0.99, before.buckets(cm), after.buckets(cm)) * 1000;
        double commits = after.sum(cm + "_count") - before.sum(cm + "_count");
        System.out.printf(
                "  and the assignment statements: %.0f (%.1f hand-outs each), p50 %.2f ms, p99 %.2f ms (max %.1f ms)%n",
                commits, handouts / commits, commitP50, commitP99, after.max(cm + "_max") * 1000);
        String rd = "gpu_gateway_scheduler_rounds_total";
        double rounds = after.sum(rd) - before.sum(rd);
        System.out.printf(
                "  scheduling rounds: %.0f (%.1f/s, %.2f per hand-out)%n",
                rounds, rounds / seconds, handouts == 0 ? Double.NaN : rounds / handouts);
        r.figure(Figure.of(s, "scheduling rounds per hand-out", handouts == 0 ? Double.NaN : rounds / handouts, ""));
        r.detail("rounds", rounds);
        r.figure(Figure.atMost(s, "decision latency p99", p99, "ms", 5));
        r.figure(Figure.of(s, "assignment statement p50", commitP50, "ms"));
        r.figure(Figure.of(s, "assignment statement p99", commitP99, "ms"));
        r.figure(Figure.of(s, "pick (in memory) p50", pickP50, "ms"));
        r.figure(Figure.atMost(s, "pick (in memory) p99", pickP99, "ms", 5));
        r.figure(Figure.of(s, "decision latency p50", p50, "ms"));
        r.figure(Figure.of(s, "decision latency max", max, "ms"));
        r.figure(Figure.of(s, "hand-outs/s (window)", rate, "/s"));
        r.detail("handouts", handouts)
                .detail("decisionMeanMillis", mean)
                .detail("windowSeconds", seconds)
                .detail("windowSql", List.of(windowStart, windowEnd));

        long calls = (long) statements.get("calls");
        long rows = (long) statements.get("rows");
        long periodic = (long) statements.get("periodicCalls");
        double perHandout = handouts == 0 ? Double.NaN : (calls - periodic) / handouts;
        double rowsPerHandout = handouts == 0
                ? Double.NaN
                : ((long) statements.get("rows") - (long) statements.get("periodicRows")) / handouts;
        System.out.printf(
                "  PostgreSQL: %,d statements, %,d rows in the window; per hand-out %.2f statements and %.1f "
                        + "rows (jobs' own: submit, assign, merges, quota look-ups); periodic %.1f statements/s%n",
                calls, rows, perHandout, rowsPerHandout, periodic / seconds);
        r.figure(Figure.of(s, "PostgreSQL statements per hand-out", perHandout, ""));
        r.figure(Figure.of(s, "PostgreSQL rows per hand-out", rowsPerHandout, ""));
        r.figure(Figure.of(s, "PostgreSQL periodic statements/s (lease, stats, sweeps)", periodic / seconds, "/s"));
        r.detail("statements", statements);

        long rss = ProcStats.rssBytes(gwPid);
        double heap = after.sum("jvm_memory_used_bytes", "area=\"heap\"");
        System.out.printf(
                "  leader memory: RSS %.0f MB, heap used %.0f MB; gateway CPU %.2f cores (scheduler thread "
                        + "%.3f cores, %.2f ms per hand-out); machine %.2f cores busy, load %.1f -> %.1f%n",
                rss / 1e6,
                heap / 1e6,
                gwTicks / ProcStats.TICKS_PER_SECOND / seconds,
                schedTicks / ProcStats.TICKS_PER_SECOND / seconds,
                handouts == 0 ? Double.NaN : schedTicks * 10.0 / handouts,
                machineCores,
                load0,
                ProcStats.loadAverage());
        r.figure(Figure.of(s, "leader RSS", rss / 1e6, "MB"));
        r.figure(Figure.of(s, "leader heap used", heap / 1e6, "MB"));
        r.figure(Figure.of(
                s,
                "scheduler thread CPU per hand-out",
                handouts == 0 ? Double.NaN : schedTicks * 10.0 / handouts,
                "ms"));
        r.detail("gatewayCores", gwTicks / ProcStats.TICKS_PER_SECOND / seconds)
                .detail("schedulerThreadCores", schedTicks / ProcStats.TICKS_PER_SECOND / seconds)
                .detail("machineBusyCores", machineCores)
                .detail("loadAverage", List.of(load0, ProcStats.loadAverage()));

        if (watched) {
            String f = "gpu_gateway_websocket_frames_total";
            double positions = after.sum(f, "type=\"position\"") - before.sum(f, "type=\"position\"");
            double frames = after.sum(f) - before.sum(f);
            System.out.printf(
                    "  position frames: %.0f (%.2f per hand-out), all frames %.0f%n",
                    positions, handouts == 0 ? Double.NaN : positions / handouts, frames);
            r.figure(Figure.of(
                    s, "position frames per hand-out", handouts == 0 ? Double.NaN : positions / handouts, ""));
            r.detail("positionFrames", positions).detail("frames", frames);
            String pw = "gpu_gateway_websocket_position_computations_total";
            double standings = after.sum(pw, "kind=\"standing\"") - before.sum(pw, "kind=\"standing\"");
            double built = after.sum(pw, "kind=\"frame\"") - before.sum(pw, "kind=\"frame\"");
            System.out.printf(
                    "  position recomputations: %.0f standings looked up (%.1f per hand-out), %.0f frames built with "
                            + "their ETA (%.1f per hand-out)%n",
                    standings,
                    handouts == 0 ? Double.NaN : standings / handouts,
                    built,
                    handouts == 0 ? Double.NaN : built / handouts);
            r.figure(Figure.of(
                    s,
                    "position standings looked up per hand-out",
                    handouts == 0 ? Double.NaN : standings / handouts,
                    ""));
            r.figure(Figure.of(
                    s,
                    "position frames built (with ETA) per hand-out",
                    handouts == 0 ? Double.NaN : built / handouts,
                    ""));
            r.detail("positionStandings", standings).detail("positionFramesBuilt", built);
        }
        // useful GPU share: generating time over wall time of the fleet (what finished in the window)
        double generating = (fleetAfter.generatingMillis() - fleetBefore.generatingMillis()) / 1000.0;
        double loading = (fleetAfter.loadingMillis() - fleetBefore.loadingMillis()) / 1000.0;
        double useful = generating / (o.workers() * seconds);
        long switches = fleetAfter.switches() - fleetBefore.switches();
        long finished = fleetAfter.jobsSucceeded() - fleetBefore.jobsSucceeded();
        System.out.printf(
                "  fleet: %d jobs finished, %d checkpoint switches; generating %.1f%%, loading %.1f%% of "
                        + "the fleet's wall time%n",
                finished, switches, useful * 100, loading / (o.workers() * seconds) * 100);
        r.figure(Figure.of(s, "useful GPU share (generating / wall)", useful * 100, "%"));
        r.detail(
                "fleet",
                Map.of(
                        "finished",
                        finished,
                        "switches",
                        switches,
                        "generatingSeconds",
                        generating,
                        "loadingSeconds",
                        loading,
                        "statuses",
                        fleetAfter.statusesSent() - fleetBefore.statusesSent(),
                        "unconfirmed",
                        fleetAfter.eventsUnconfirmed(),
                        "unreadable",
                        fleetAfter.messagesUnreadable()));
        Map<String, Object> fairness = fairness(windowStart, windowEnd);
        r.figure(Figure.of(s, "Jain's index (backlogged keys, weighted)", (double) fairness.get("jain"), ""));
        r.figure(Figure.of(s, "Jain's index / best possible in the window", (double) fairness.get("jainOfIdeal"), ""));
        r.figure(Figure.of(
                s, "spread of backlogged keys' next fair tags", (double) fairness.get("headTagSpread"), "GPU s"));
        r.detail("fairness", fairness);
        System.out.printf(
                "  fairness: Jain's index %.3f over %s backlogged keys (%s jobs; the most even split of "
                        + "those gives %.3f); next tags within %.2f virtual GPU s%n",
                fairness.get("jain"),
                fairness.get("keys"),
                fairness.get("jobsHandedToThem"),
                fairness.get("jainIdeal"),
                fairness.get("headTagSpread"));
    }

    /**
     * Jain's index over the keys that had waiting jobs for the whole window (backlogged), of the estimated GPU seconds
     * handed to each divided by its weight; 1 = perfectly equal shares. When a window hands out fewer jobs than there
     * are backlogged keys, even a perfect round robin cannot give every key a share: the index of the most even split
     * of the same number of hand-outs ({@code jainIdeal}) is the ceiling, and {@code jain / jainIdeal} is the figure.
     * Also the spread of the backlogged keys' next fair tags (max - min, virtual GPU seconds): start-time fair
     * queuing keeps it within about one job's cost.
     */
    private Map<String, Object> fairness(String start, String end) {
        Map<String, Object> out = new LinkedHashMap<>();
        String q = """
                with handed as (
                    select j.owner_key_id, sum(j.cost) as gpu, count(*) as jobs
                    from job_state_history h join job j on j.id = h.job_id
                    where h.reason = 'assigned' and h.occurred_at >= cast(? as timestamptz)
                      and h.occurred_at < cast(? as timestamptz)
                    group by j.owner_key_id
                ), backlogged as (
                    select owner_key_id, min(fair_tag) as head from job
                    where status = 'QUEUED' and assigned_worker is null and queued_at < cast(? as timestamptz)
                    group by owner_key_id
                )
                select b.owner_key_id, coalesce(h.gpu, 0) / coalesce(k.weight, 1) as x, coalesce(h.jobs, 0) as jobs,
                       b.head
                from backlogged b join api_key k on k.id = b.owner_key_id
                left join handed h on h.owner_key_id = b.owner_key_id""";
        double sum = 0;
        double sumSq = 0;
        long jobs = 0;
        int n = 0;
        double minHead = Double.POSITIVE_INFINITY;
        double maxHead = Double.NEGATIVE_INFINITY;
        try (Connection c = postgres.connect();
                PreparedStatement ps = c.prepareStatement(q)) {
            ps.setString(1, start);
            ps.setString(2, end);
            ps.setString(3, start);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    double x = rs.getDouble(2);
                    sum += x;
                    sumSq += x * x;
                    jobs += rs.getLong(3);
                    minHead = Math.min(minHead, rs.getDouble(4));
                    maxHead = Math.max(maxHead, rs.getDouble(4));
                    n++;
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("fairness query failed: " + e, e);
        }
        double jain = n == 0 || sumSq == 0 ? Double.NaN : sum * sum / (n * sumSq);
        long per = n == 0 ? 0 : jobs / n;
        long rest = n == 0 ? 0 : jobs % n;
        double idealSq = (double) (n - rest) * per * per + (double) rest * (per + 1) * (per + 1);
        double ideal = n == 0 || idealSq == 0 ? Double.NaN : (double) jobs * jobs / (n * idealSq);
        out.put("keys", n);
        out.put("jobsHandedToThem", jobs);
        out.put("jain", jain);
        out.put("jainIdeal", ideal);
        out.put("jainOfIdeal", jain / ideal);
        out.put("headTagSpread", n == 0 ? Double.NaN : maxHead - minHead);
        out.put("meanGpuSecondsPerKey", n == 0 ? Double.NaN : sum / n);
        return out;
    }

    // --------------------------------------------------------------------------------------------------- failover

    /**
     * SIGKILLs the leader and waits until the other gateway hands out: the time from the kill to the first assignment
     * committed after it, both on PostgreSQL's clock ({@code assigned_at}, read through the partial index
     * job_assigned), so how fast this process polls does not matter. Only assignments whose transaction began once
     * the leader was dead count ({@code assigned_at} is the transaction's start): the killed leader's last statement,
     * sent before its death, may still commit afterwards.
     */
    private ScenarioResult failover(AppProcess leader) {
        ScenarioResult r = new ScenarioResult("scale-failover", "current");
        AppProcess other =
                gateways.stream().filter(g -> g != leader).findFirst().orElseThrow();
        System.out.println("  SIGKILL of the leader " + leader.name() + " under load ...");
        String killedAt = sqlText("select now()::text");
        leader.kill();
        String deadAt = sqlText("select now()::text");
        double took = Double.NaN;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String first = sqlText("select extract(epoch from min(assigned_at) - cast('" + killedAt
                    + "' as timestamptz))::text from job where assigned_worker is not null and assigned_at > cast('"
                    + deadAt + "' as timestamptz)");
            if (first != null) {
                took = Double.parseDouble(first);
                break;
            }
            sleepMillis(100);
        }
        gateways.remove(leader);
        double leaderNow = PromPage.scrape(other.managementUrl()).sum("gpu_gateway_scheduler_leader");
        System.out.printf(
                "  failover: %s handed out %.2f s after the kill (leader gauge %.0f)%n", other.name(), took, leaderNow);
        r.figure(Figure.atMost("scale-failover", "leader failover under load (kill to first hand-out)", took, "s", 5));
        r.detail("loadAverage", ProcStats.loadAverage());
        return r;
    }

    // ----------------------------------------------------------------------------------------------------- steady

    /** Withdraws the backlog, then submits through the REST API at the fleet's capacity and measures a window. */
    private ScenarioResult steady(SimFleet fleet) {
        ScenarioResult r = new ScenarioResult("scale-steady", "current");
        AppProcess gateway = leader();
        // rows the scheduler has locked for an assignment are skipped, not waited for: one statement over the whole
        // backlog, waiting on them, locks in another order than the scheduler's batches and could deadlock with one
        int withdrawn = 0;
        for (int n = -1; n != 0; withdrawn += n) {
            n = sqlUpdate("""
                    update job set status = 'CANCELLED', finished_at = now(), version = version + 1
                    where id in (select id from job where status = 'QUEUED' and assigned_worker is null
                                 for update skip locked)
                      and status = 'QUEUED' and assigned_worker is null""");
        }
        System.out.printf(
                "  steady state: %,d queued jobs withdrawn; submitting at the fleet's capacity through %s%n",
                withdrawn, gateway.name());
        double secondsPerJob = (MIN_STEPS + MAX_STEPS) / 2.0 * SECONDS_PER_STEP * o.timeFactor();
        double rate = o.workers() / secondsPerJob;
        GatewayClient api = new GatewayClient(gateway.baseUrl(), gateway.managementUrl(), rawKeys);
        AtomicLong accepted = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        Random random = new Random(21);
        long[] cumulative = cumulative(keyShare);
        Thread submitter = new Thread(
                () -> {
                    long start = System.nanoTime();
                    long sent = 0;
                    long end = start + TimeUnit.SECONDS.toNanos(o.warmupSeconds() + o.windowSeconds() + 5);
                    while (System.nanoTime() < end && !Thread.currentThread().isInterrupted()) {
                        long due = start + (long) (sent / rate * 1e9);
                        long wait = due - System.nanoTime();
                        if (wait > 0) {
                            sleepMillis(Math.max(1, wait / 1_000_000));
                            continue;
                        }
                        int k = pick(cumulative, random);
                        api.submitAsync(jobBody(k, random), rawKeys.get(k)).whenComplete((res, e) -> {
                            if (e == null && res.accepted()) {
                                accepted.incrementAndGet();
                            } else {
                                refused.incrementAndGet();
                            }
                        });
                        sent++;
                    }
                },
                "scale-submitter");
        submitter.setDaemon(true);
        submitter.start();
        try {
            sleep(o.warmupSeconds());
            window(r, gateway, fleet, false, false);
        } finally {
            submitter.interrupt();
            joinQuietly(submitter);
            api.close();
        }
        r.detail("offeredRate", rate).detail("accepted", accepted.get()).detail("refused", refused.get());
        System.out.printf(
                "  steady: offered %.1f jobs/s, %d accepted, %d refused%n", rate, accepted.get(), refused.get());
        return r;
    }

    private Map<String, Object> jobBody(int key, Random random) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("prompt", "scale " + key);
        body.put("width", 512);
        body.put("height", 512);
        body.put("steps", MIN_STEPS + random.nextInt(MAX_STEPS - MIN_STEPS + 1));
        body.put("sampler", "Euler a");
        body.put(
                "checkpoint",
                random.nextDouble() < 0.8
                        ? primaryCheckpoint(key)
                        : checkpoints.get(random.nextInt(checkpoints.size())));
        return body;
    }

    // ------------------------------------------------------------------------------------------------------ setup

    private AppProcess launchGateway(int n) {
        Map<String, String> env = new HashMap<>(rabbit.appEnvironment());
        env.putAll(postgres.appEnvironment());
        env.put("GATEWAY_INSTANCE_ID", "scale-gw" + n);
        env.put("GATEWAY_QUOTAS_MAXQUEUED", "1000000");
        // a load generator, not abuse: the per-key rate limits far above what it sends
        env.put("GATEWAY_RATELIMITS_REQUESTS_BURST", "1000000");
        env.put("GATEWAY_RATELIMITS_REQUESTS_PERSECOND", "1000000");
        env.put("GATEWAY_RATELIMITS_FRAMES_BURST", "1000000");
        env.put("GATEWAY_RATELIMITS_FRAMES_PERSECOND", "1000000");
        env.put("GATEWAY_WEBSOCKET_MAXSESSIONSPERKEY", "1000000");
        env.put("GATEWAY_WEBSOCKET_MAXUNAUTHENTICATEDSESSIONS", "1000000");
        env.put("LOGGING_LEVEL_IO_FORGEQUEUE_GATEWAY_FLEET", "WARN"); // 500 "worker joined" lines are noise here
        env.putAll(BenchOptions.envFor(ctx.options().gatewayEnv(), "current"));
        List<String> jvm = new ArrayList<>(List.of("-Xms512m", "-Xmx1g"));
        jvm.addAll(ctx.profilingArgs("scale-gw" + n));
        // the run's private copy of the current jars (BenchMain took it): a rebuild meanwhile changes nothing
        Jars jars = Jars.in("current", ctx.outDir().resolve("jars"));
        return AppProcess.launch(
                "scale-gw" + n, jars.gateway(), jvm, env, FreePort.next(), FreePort.next(), ctx.logDir());
    }

    private void createKeys() {
        try (Connection c = postgres.connect();
                PreparedStatement ps = c.prepareStatement("""
                insert into api_key (id, name, key_hash, key_prefix)
                values (?, ?, sha256(convert_to(?, 'UTF8')), ?)""")) {
            for (int k = 0; k < o.keys(); k++) {
                UUID id = UUID.randomUUID();
                String raw =
                        "fq_scale_" + k + "_" + UUID.randomUUID().toString().replace("-", "");
                keyIds.add(id);
                rawKeys.add(raw);
                ps.setObject(1, id);
                ps.setString(2, String.format("scale-key-%04d", k + 1));
                ps.setString(3, raw);
                ps.setString(4, raw.substring(0, 12));
                ps.addBatch();
            }
            ps.executeBatch();
        } catch (SQLException e) {
            throw new IllegalStateException("could not create the keys: " + e, e);
        }
    }

    /**
     * Queues the burst with ONE statement that does what {@code JobRepository.insert} does for each job: the job row
     * (QUEUED, normal priority, cost, checkpoint, sampler), its history row, and its fair tag from the fair clock.
     * The tags are what submitting the jobs one by one would give, in any order, while nothing is handed out: a key's
     * n-th job gets {@code vtime(pool) + the costs of its n-1 earlier jobs / weight} (the key's virtual finish time,
     * starting at the pool's virtual time since no key has a clock yet), and each key's clock ends at the sum. The
     * cost is the submit path's estimate (steps / 20 standard images x 1 s, the default before the pool has finished
     * a job). Tickets follow a random order of the rows (the keys' submissions interleaved). REST submission of 100,000
     * jobs takes minutes on this machine; this takes seconds.
     */
    private int insertBurst() {
        long[] counts = new long[o.keys()];
        long total = 0;
        for (int k = 0; k < o.keys(); k++) {
            counts[k] = Math.max(1, Math.round(keyShare[k] * o.jobs()));
            total += counts[k];
        }
        counts[0] += o.jobs() - total; // the biggest key absorbs rounding
        String[] primaries = new String[o.keys()];
        Integer[] n = new Integer[o.keys()];
        for (int k = 0; k < o.keys(); k++) {
            primaries[k] = primaryCheckpoint(k);
            n[k] = (int) counts[k];
        }
        String sql = """
                with plan as (
                    select k.owner, k.n, k.primary_checkpoint
                    from unnest(cast(? as uuid[]), cast(? as int[]), cast(? as text[])) as k(owner, n, primary_checkpoint)
                ), jobs as (
                    select p.owner, g.i,
                           case when random() < 0.8 then p.primary_checkpoint
                                else (cast(? as text[]))[1 + floor(random() * ?)::int] end as checkpoint,
                           ? + floor(random() * ?)::int as steps
                    from plan p, generate_series(1, p.n) as g(i)
                ), tagged as (
                    select *, steps / 20.0 as cost,
                           coalesce(sum(steps / 20.0) over (partition by owner order by i
                                    rows between unbounded preceding and 1 preceding), 0)
                               + coalesce((select vtime from pool_clock where pool = ?), 0) as tag,
                           gen_random_uuid() as id
                    from jobs
                ), ins as (
                    insert into job (id, owner_key_id, pool, spec, status, priority, requested_priority, fair_tag, cost,
                                     checkpoint, sampler)
                    select id, owner, ?, jsonb_build_object('prompt', 'scale ' || i, 'width', 512, 'height', 512,
                               'steps', steps, 'cfgScale', 7.0, 'sampler', 'Euler a', 'seed', i,
                               'checkpoint', checkpoint, 'batchSize', 1),
                           'QUEUED', 1, 1, tag, cost, checkpoint, 'Euler a'
                    from tagged order by random()
                    returning id, created_at
                ), hist as (
                    insert into job_state_history (job_id, from_status, to_status, attempt, reason, occurred_at)
                    select id, null, 'QUEUED', 0, 'submitted', created_at from ins
                ), clock as (
                    insert into fair_clock as f (owner_key_id, pool, vfinish)
                    select owner, ?, max(tag + cost) from tagged group by owner
                    on conflict (owner_key_id, pool) do update set vfinish = excluded.vfinish
                )
                select count(*) from ins""";
        try (Connection c = postgres.connect();
                PreparedStatement ps = c.prepareStatement(sql)) {
            Array owners = c.createArrayOf("uuid", keyIds.toArray());
            ps.setArray(1, owners);
            ps.setArray(2, c.createArrayOf("integer", n));
            ps.setArray(3, c.createArrayOf("text", primaries));
            ps.setArray(4, c.createArrayOf("text", checkpoints.toArray()));
            ps.setInt(5, checkpoints.size());
            ps.setInt(6, MIN_STEPS);
            ps.setInt(7, MAX_STEPS - MIN_STEPS + 1);
            ps.setString(8, POOL);
            ps.setString(9, POOL);
            ps.setString(10, POOL);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("burst insert failed: " + e, e);
        } finally {
            sql("analyze job");
        }
    }

    /** WebSocket clients on {@code gateway}, each watching some waiting jobs of one key (keys across the ranks). */
    private List<WsClient> connectWatchers(HttpClient http, AppProcess gateway) {
        List<WsClient> out = new ArrayList<>();
        if (o.wsClients() <= 0) {
            return out;
        }
        for (int c = 0; c < o.wsClients(); c++) {
            int k = (int) ((long) c * o.keys() / o.wsClients());
            List<UUID> jobs = new ArrayList<>();
            try (Connection conn = postgres.connect();
                    PreparedStatement ps = conn.prepareStatement(
                            "select id from job where owner_key_id = ? and status = 'QUEUED' order by random() limit ?")) {
                ps.setObject(1, keyIds.get(k));
                ps.setInt(2, o.wsJobsPerClient());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        jobs.add(rs.getObject(1, UUID.class));
                    }
                }
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
            WsClient client = WsClient.connect(http, gateway.baseUrl(), rawKeys.get(k), c, (cl, frame, at, nanos) -> {})
                    .orTimeout(60, TimeUnit.SECONDS)
                    .join();
            jobs.forEach(client::subscribe);
            out.add(client);
        }
        System.out.printf(
                "  %d WebSocket clients on %s watch %d waiting jobs%n",
                out.size(), gateway.name(), out.size() * o.wsJobsPerClient());
        return out;
    }

    // ---------------------------------------------------------------------------------------------------- helpers

    /** The gateway that is the scheduler now (waits for one). */
    private AppProcess leader() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            for (AppProcess g : gateways) {
                if (g.isAlive() && PromPage.scrape(g.managementUrl()).sum("gpu_gateway_scheduler_leader") >= 1) {
                    return g;
                }
            }
            sleepMillis(200);
        }
        throw new IllegalStateException("no gateway became the scheduler within 60 s");
    }

    private double awaitQueued(AppProcess g, int n, Duration timeout) {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (PromPage.scrape(g.managementUrl()).sum("gpu_gateway_jobs_by_state", "state=\"queued\"") >= n) {
                return (System.nanoTime() - start) / 1e9;
            }
            sleepMillis(250);
        }
        throw new IllegalStateException(g.name() + " did not show " + n + " queued jobs within " + timeout);
    }

    /**
     * Seconds from the first hand-out after {@code since} (PostgreSQL time) to the n-th, from the jobs' own
     * {@code assigned_at} (read through the partial index job_assigned; scraping the gateway every few milliseconds
     * would cost the gateway more than what is measured).
     */
    private double awaitHandouts(String since, int n, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String q = "select extract(epoch from max(a) - min(a))::text from (select assigned_at as a from job "
                + "where assigned_worker is not null and assigned_at > cast('" + since + "' as timestamptz) "
                + "order by assigned_at limit " + n + ") first having count(*) >= " + n;
        while (System.nanoTime() < deadline) {
            String spread = sqlText(q);
            if (spread != null) {
                return Math.max(0.001, Double.parseDouble(spread));
            }
            sleepMillis(500);
        }
        return Double.NaN; // not all workers got a job within the time (placement waits): reported as such
    }

    private void resetStatements() {
        sqlText("select pg_stat_statements_reset()::text");
    }

    /** Totals and the busiest statements since the reset (the bench's own statements left out). */
    private Map<String, Object> readStatements() {
        Map<String, Object> out = new LinkedHashMap<>();
        List<Map<String, Object>> top = new ArrayList<>();
        long calls = 0;
        long rows = 0;
        long periodicCalls = 0;
        long periodicRows = 0;
        try (Connection c = postgres.connect();
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("""
                select s.calls, s.rows, s.total_exec_time, s.shared_blks_hit + s.shared_blks_read as blocks,
                       left(regexp_replace(s.query, '\\s+', ' ', 'g'), 160) as query
                from pg_stat_statements s join pg_database d on d.oid = s.dbid
                where d.datname = current_database() and s.query not like '%pg_stat_statements%'
                  and s.query not like 'select now()%'
                order by s.calls desc""")) {
            while (rs.next()) {
                calls += rs.getLong(1);
                rows += rs.getLong(2);
                boolean isPeriodic = periodic(rs.getString(5));
                if (isPeriodic) {
                    periodicCalls += rs.getLong(1);
                    periodicRows += rs.getLong(2);
                }
                if (top.size() < 25) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("calls", rs.getLong(1));
                    m.put("rows", rs.getLong(2));
                    m.put("ms", Math.round(rs.getDouble(3)));
                    m.put("blocks", rs.getLong(4));
                    m.put("query", rs.getString(5));
                    m.put("periodic", isPeriodic);
                    top.add(m);
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("reading pg_stat_statements failed: " + e, e);
        }
        out.put("calls", calls);
        out.put("rows", rows);
        out.put("periodicCalls", periodicCalls);
        out.put("periodicRows", periodicRows);
        out.put("top", top);
        return out;
    }

    /**
     * Statements that run on a clock, not per job: the lease renewal, the queue stats refresh and oldest-job gauges,
     * the outbox sweep, the promotion and stuck sweeps, WebSocket reconciliation, the ticket gauge.
     */
    static boolean periodic(String query) {
        String q = query.toLowerCase(java.util.Locale.ROOT);
        return q.contains("scheduler_lease")
                || q.contains("percentile_cont")
                || q.contains("min(created_at)")
                || q.contains("from outbox")
                || q.contains("priority = $")
                || q.contains("with stuck as")
                || q.contains("job_ticket_seq")
                || q.contains("id, owner_key_id, version from job")
                || q.startsWith("set ")
                || q.contains("pg_stat_statements");
    }

    private String primaryCheckpoint(int key) {
        // deterministic per key: popular checkpoints are used by more keys
        double u = new Random(key * 7919L + 1).nextDouble();
        double acc = 0;
        for (int i = 0; i < checkpoints.size(); i++) {
            acc += CHECKPOINT_POPULARITY[i];
            if (u < acc) {
                return checkpoints.get(i);
            }
        }
        return checkpoints.get(0);
    }

    /** Shares of the keys' submissions: key k (0-based) in proportion to 1 / (k+1)^s. */
    static double[] zipf(int keys, double s) {
        double[] w = new double[keys];
        double sum = 0;
        for (int k = 0; k < keys; k++) {
            w[k] = 1 / Math.pow(k + 1, s);
            sum += w[k];
        }
        for (int k = 0; k < keys; k++) {
            w[k] /= sum;
        }
        return w;
    }

    private static long[] cumulative(double[] share) {
        long[] c = new long[share.length];
        double acc = 0;
        for (int i = 0; i < share.length; i++) {
            acc += share[i];
            c[i] = (long) (acc * Long.MAX_VALUE);
        }
        c[share.length - 1] = Long.MAX_VALUE;
        return c;
    }

    private static int pick(long[] cumulative, Random random) {
        long u = random.nextLong() & Long.MAX_VALUE;
        int i = java.util.Arrays.binarySearch(cumulative, u);
        return Math.min(cumulative.length - 1, i >= 0 ? i : -i - 1);
    }

    private void sql(String statement) {
        try (Connection c = postgres.connect();
                Statement s = c.createStatement()) {
            s.execute(statement);
        } catch (SQLException e) {
            throw new IllegalStateException(statement + " failed: " + e, e);
        }
    }

    private int sqlUpdate(String statement) {
        try (Connection c = postgres.connect();
                Statement s = c.createStatement()) {
            return s.executeUpdate(statement);
        } catch (SQLException e) {
            throw new IllegalStateException(statement + " failed: " + e, e);
        }
    }

    private String sqlText(String query) {
        try (Connection c = postgres.connect();
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery(query)) {
            return rs.next() ? rs.getString(1) : null;
        } catch (SQLException e) {
            throw new IllegalStateException(query + " failed: " + e, e);
        }
    }

    private static void sleep(int seconds) {
        sleepMillis(seconds * 1000L);
    }

    private static void sleepMillis(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void joinQuietly(Thread t) {
        try {
            t.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
