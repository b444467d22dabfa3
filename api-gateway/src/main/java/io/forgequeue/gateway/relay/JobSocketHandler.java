package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.apikey.ApiKeyChanged;
import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.apikey.Caller;
import io.forgequeue.gateway.apikey.RateLimits;
import io.forgequeue.gateway.job.JobQueries;
import io.forgequeue.gateway.job.JobView;
import io.forgequeue.gateway.system.GatewayMetrics;
import io.forgequeue.gateway.system.ThreadPools;
import io.forgequeue.model.JobPreview;
import io.forgequeue.model.JobStatus;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadPoolExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.EventListener;
import org.springframework.dao.DataAccessException;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.stereotype.Component;
import org.springframework.web.socket.CloseStatus;
import org.springframework.web.socket.TextMessage;
import org.springframework.web.socket.WebSocketSession;
import org.springframework.web.socket.adapter.NativeWebSocketSession;
import org.springframework.web.socket.handler.TextWebSocketHandler;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The WebSocket endpoint {@code /ws}: plain JSON frames, protocol in {@code api-gateway/PROTOCOL.md}. Clients
 * authenticate (first frame or Authorization header), subscribe to one job or all their jobs, get a snapshot from
 * PostgreSQL first and then every newer version. Also the entry point for relayed updates and previews.
 */
@Component
class JobSocketHandler extends TextWebSocketHandler implements SmartLifecycle {

    static final CloseStatus UNAUTHORIZED = new CloseStatus(4401, "unauthorized");
    static final CloseStatus AUTH_TIMEOUT = new CloseStatus(4408, "authentication timeout");
    static final CloseStatus KEY_DISABLED = new CloseStatus(4401, "key disabled");
    static final CloseStatus TOO_MANY_SESSIONS = new CloseStatus(4429, "too many sessions");
    static final CloseStatus RATE_LIMITED = new CloseStatus(4429, "rate limited");
    static final CloseStatus TOO_MANY_UNAUTHENTICATED = CloseStatus.SERVICE_OVERLOAD.withReason("too many connections");
    private static final Logger log = LoggerFactory.getLogger(JobSocketHandler.class);
    private static final int MAX_RESUME_JOBS = 200;

    private final SocketRegistry registry;
    private final JobQueries jobs;
    private final ApiKeys keys;
    private final Frames frames;
    private final PositionPusher positions;
    private final QueuePusher queue;
    private final GatewayMetrics metrics;
    private final JsonMapper json;
    private final RelayProperties properties;
    private final RateLimits rateLimits;
    private final ThreadPoolTaskExecutor senders;
    private final MeterRegistry meters;
    private volatile boolean running;
    private final ThreadPoolTaskScheduler timer = ThreadPools.scheduler("ws-timer", 1);

    JobSocketHandler(
            SocketRegistry registry,
            JobQueries jobs,
            ApiKeys keys,
            Frames frames,
            PositionPusher positions,
            QueuePusher queue,
            GatewayMetrics metrics,
            JsonMapper json,
            RelayProperties properties,
            RateLimits rateLimits,
            MeterRegistry meters) {
        this.meters = meters;
        this.registry = registry;
        this.jobs = jobs;
        this.keys = keys;
        this.frames = frames;
        this.positions = positions;
        this.queue = queue;
        this.metrics = metrics;
        this.json = json;
        this.properties = properties;
        this.rateLimits = rateLimits;
        // unbounded queue: a session has at most one drain task waiting; the AbortPolicy only applies once shut down
        this.senders = ThreadPools.executor(
                "ws-send", properties.sendThreads(), Integer.MAX_VALUE, new ThreadPoolExecutor.AbortPolicy());
    }

    @Override
    public void afterConnectionEstablished(WebSocketSession ws) {
        limitBlockingSends(ws);
        Caller caller = (Caller) ws.getAttributes().get(HeaderAuthInterceptor.CALLER_ATTRIBUTE);
        if (caller == null && unauthenticatedSessions() >= properties.maxUnauthenticatedSessions()) {
            // connections that never authenticate hold a slot each for auth-timeout; cap them
            metrics.rateLimited(GatewayMetrics.LIMIT_UNAUTHENTICATED);
            log.warn(
                    "WebSocket connection refused: {} sessions here have not authenticated yet (the limit)",
                    properties.maxUnauthenticatedSessions());
            closeQuietly(ws, TOO_MANY_UNAUTHENTICATED);
            return;
        }
        SocketSession session = new SocketSession(ws, senders, properties.maxQueuedFrames(), properties.sendTimeout());
        registry.add(session);
        if (caller != null) {
            admit(session, caller);
            return;
        }
        timer.schedule(
                () -> {
                    if (session.caller() == null) {
                        session.send(frames.error(
                                "auth-timeout", "Send {\"type\":\"auth\",\"apiKey\":\"...\"} first.", null));
                        session.closeAfterPending(AUTH_TIMEOUT);
                    }
                },
                Instant.now().plus(properties.authTimeout()));
    }

    @Override
    protected void handleTextMessage(WebSocketSession ws, TextMessage message) {
        SocketSession session = registry.get(ws.getId());
        if (session == null) {
            return;
        }
        JsonNode frame;
        try {
            frame = json.readTree(message.getPayload());
        } catch (RuntimeException e) {
            session.send(frames.error("bad-frame", "Frames are JSON objects with a \"type\".", null));
            return;
        }
        String type = frame.path("type").asString("");
        Caller sender = session.caller();
        if (sender != null && rateLimits.tryFrame(sender.keyId()) != null) {
            metrics.rateLimited(GatewayMetrics.LIMIT_FRAMES);
            session.send(frames.error(
                    "rate-limited",
                    "This API key sent more WebSocket frames than its rate limit " + "allows; reconnect later.",
                    null));
            session.closeAfterPending(RATE_LIMITED);
            return;
        }
        try {
            if (session.caller() == null && !type.equals("auth")) {
                session.send(frames.error(
                        "unauthorized", "Authenticate first: {\"type\":\"auth\",\"apiKey\":\"...\"}.", null));
                session.closeAfterPending(UNAUTHORIZED);
                return;
            }
            switch (type) {
                case "auth" -> authenticate(session, frame);
                case "subscribe" -> subscribe(session, frame);
                case "unsubscribe" -> unsubscribe(session, frame);
                case "ping" -> session.send(frames.pong());
                default -> session.send(frames.error("bad-frame", "Unknown frame type '" + type + "'.", null));
            }
        } catch (DataAccessException e) {
            log.warn(
                    "WebSocket frame {} failed, database unavailable: {}",
                    type,
                    e.getClass().getSimpleName());
            session.send(
                    frames.error("service-unavailable", "The job database cannot be reached; retry shortly.", null));
        }
    }

    private void authenticate(SocketSession session, JsonNode frame) {
        Optional<Caller> caller = keys.authenticate(frame.path("apiKey").asString(null));
        if (caller.isEmpty()
                || (session.caller() != null
                        && !session.caller().keyId().equals(caller.get().keyId()))) {
            session.send(frames.error("unauthorized", "The API key is not valid.", null));
            session.closeAfterPending(UNAUTHORIZED);
            return;
        }
        if (session.caller() != null) {
            session.send(frames.authenticated(caller.get().name())); // the same key again
            return;
        }
        admit(session, caller.get());
    }

    /** Authenticates the session unless its key already holds as many sessions here as it may. */
    private void admit(SocketSession session, Caller caller) {
        long others = registry.all().stream()
                .filter(s ->
                        s != session && s.caller() != null && s.caller().keyId().equals(caller.keyId()))
                .count();
        if (others >= properties.maxSessionsPerKey()) {
            metrics.rateLimited(GatewayMetrics.LIMIT_SESSIONS);
            session.send(frames.error(
                    "too-many-sessions",
                    "This API key already has " + others + " open sessions " + "here; the limit is "
                            + properties.maxSessionsPerKey() + ".",
                    null));
            session.closeAfterPending(TOO_MANY_SESSIONS);
            return;
        }
        session.authenticate(caller);
        session.send(frames.authenticated(caller.name()));
    }

    private long unauthenticatedSessions() {
        return registry.all().stream().filter(s -> s.caller() == null).count();
    }

    private static void closeQuietly(WebSocketSession ws, CloseStatus status) {
        try {
            ws.close(status);
        } catch (java.io.IOException | RuntimeException e) {
            log.debug(
                    "WebSocket session {} could not be closed: {}",
                    ws.getId(),
                    e.getClass().getSimpleName());
        }
    }

    private void subscribe(SocketSession session, JsonNode frame) {
        UUID owner = session.caller().keyId();
        if (frame.hasNonNull("jobId")) {
            UUID jobId = parseId(frame.path("jobId").asString(""));
            Long version = frame.hasNonNull("version") ? frame.get("version").asLong() : null;
            Optional<JobView> view = Optional.empty();
            if (jobId != null) {
                registry.watch(session, jobId);
                view = jobs.find(owner, jobId);
            }
            if (view.isEmpty()) {
                if (jobId != null) {
                    registry.unwatch(session, jobId);
                }
                // the same answer for a malformed id, an unknown job and another key's job
                session.send(frames.error("job-not-found", "No such job among this key's jobs.", jobId));
                return;
            }
            pushSnapshot(session, view.get(), version);
            return;
        }
        if ("queue".equals(frame.path("scope").asString(""))) {
            session.watchQueue(true);
            session.send(frames.subscribedQueue());
            queue.pushTo(session);
            return;
        }
        if ("all".equals(frame.path("scope").asString(""))) {
            Map<UUID, Long> known = new LinkedHashMap<>();
            frame.path("versions").properties().stream().limit(MAX_RESUME_JOBS).forEach(e -> {
                UUID id = parseId(e.getKey());
                if (id != null && e.getValue().canConvertToLong()) {
                    known.put(id, e.getValue().asLong());
                }
            });
            registry.watchAll(session);
            Map<UUID, JobView> views = new LinkedHashMap<>();
            for (JobView v : jobs.inFlight(owner)) {
                views.put(v.id(), v);
            }
            for (UUID id : known.keySet()) {
                if (!views.containsKey(id)) {
                    jobs.find(owner, id).ifPresent(v -> views.put(id, v));
                }
            }
            for (JobView v : views.values()) {
                registry.watch(session, v.id());
                pushSnapshot(session, v, known.get(v.id()));
            }
            session.send(frames.subscribedAll(views.size()));
            return;
        }
        session.send(
                frames.error("bad-frame", "subscribe needs a \"jobId\" or \"scope\": \"all\" or \"queue\".", null));
    }

    private void pushSnapshot(SocketSession session, JobView view, Long clientVersion) {
        int sent = session.snapshot(view, clientVersion, frames);
        for (int i = 0; i < sent; i++) {
            metrics.framePushed("snapshot");
        }
        if (view.status() == JobStatus.QUEUED && view.position() == null) {
            positions.queueMoved(view.pool());
        }
    }

    private void unsubscribe(SocketSession session, JsonNode frame) {
        if (frame.hasNonNull("jobId")) {
            UUID jobId = parseId(frame.path("jobId").asString(""));
            if (jobId != null) {
                registry.unwatch(session, jobId);
            }
            session.send(frames.unsubscribed(jobId));
        } else if ("queue".equals(frame.path("scope").asString(""))) {
            session.watchQueue(false);
            session.send(frames.unsubscribedQueue());
        } else {
            registry.unwatchAll(session);
            session.send(frames.unsubscribed(null));
        }
    }

    @Override
    public void afterConnectionClosed(WebSocketSession ws, CloseStatus status) {
        SocketSession session = registry.get(ws.getId());
        if (session != null) {
            registry.remove(session);
        }
    }

    @Override
    public void handleTransportError(WebSocketSession ws, Throwable exception) {
        log.debug(
                "WebSocket session {} transport error: {}",
                ws.getId(),
                exception.getClass().getSimpleName());
    }

    /**
     * A key was disabled (on any gateway; PostgreSQL told this one): its sessions here get an error frame
     * {@code key-disabled} and are closed with 4401. Runs on the notification thread; the frames and closes are
     * written by the sender threads.
     */
    @EventListener
    void onKeyChanged(ApiKeyChanged change) {
        if (!change.disabled()) {
            return;
        }
        int closed = 0;
        for (SocketSession session : registry.all()) {
            Caller caller = session.caller();
            if (caller != null && caller.keyId().equals(change.keyId())) {
                session.send(frames.error("key-disabled", "This API key was disabled.", null));
                session.closeAfterPending(KEY_DISABLED);
                closed++;
            }
        }
        if (closed > 0) {
            log.info("ApiKey(id={}) disabled: closing its {} WebSocket session(s) here", change.keyId(), closed);
        }
    }

    /** A relayed job update: to every session watching the job or all of its owner's jobs. */
    void onUpdate(JobUpdate update) {
        JobView view = update.job();
        EncodedUpdate encoded = new EncodedUpdate(() -> frames.update(view));
        for (SocketSession session : registry.interestedIn(view.id(), update.ownerKeyId())) {
            Caller caller = session.caller();
            boolean owns = caller != null && caller.keyId().equals(update.ownerKeyId());
            if (!owns) {
                continue; // never cross keys, whatever the index says
            }
            boolean auto = session.allJobs();
            if (session.update(view, auto, encoded)) {
                metrics.framePushed("update");
                metrics.updateDelivered(update.changedAt());
            }
            if (auto) {
                registry.index(session, view.id());
            }
        }
        if (update.queueMoved()) {
            positions.queueMoved(view.pool());
        } else if (view.status() == JobStatus.QUEUED && view.position() == null) {
            positions.queueMoved(view.pool());
        }
    }

    /** A relayed preview: to the sessions watching that job. */
    void onPreview(JobPreview preview) {
        String frame = null;
        for (SocketSession session : registry.watching(preview.jobId())) {
            if (session.watches(preview.jobId())) {
                if (frame == null) {
                    frame = frames.preview(preview);
                }
                session.send(frame);
                metrics.framePushed("preview");
            }
        }
    }

    private static UUID parseId(String text) {
        try {
            return UUID.fromString(text);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private void limitBlockingSends(WebSocketSession ws) {
        if (ws instanceof NativeWebSocketSession n && n.getNativeSession() instanceof jakarta.websocket.Session s) {
            s.getUserProperties()
                    .put(
                            "org.apache.tomcat.websocket.BLOCKING_SEND_TIMEOUT",
                            properties.sendTimeout().toMillis());
        }
    }

    @Override
    public void start() {
        ThreadPools.start(timer, meters);
        ThreadPools.start(senders, meters);
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        timer.shutdown();
        senders.shutdown();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Before the web server, which hands it sessions, and stopped after it. */
    @Override
    public int getPhase() {
        return ThreadPools.PHASE;
    }
}
