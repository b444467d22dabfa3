package io.forgequeue.gateway.relay;

import jakarta.validation.constraints.Min;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * The WebSocket relay ({@code gateway.websocket.*}); the protocol is in {@code api-gateway/PROTOCOL.md}.
 *
 * @param authTimeout      a session that has not authenticated within this time is closed
 * @param positionDebounce queue movements within this window cost one position push per client
 * @param allowedOrigins   Origin patterns allowed to open a session (keys, not cookies, authenticate, so "*" is safe)
 * @param maxFrameBytes    largest frame a client may send
 * @param sendTimeout      a frame a client does not take within this time disconnects it
 * @param maxQueuedFrames  a client this many frames behind is disconnected (it resumes from its last version)
 * @param sendThreads      threads writing frames to clients (a stalled client holds at most one)
 * @param reconcileInterval how often what the clients were sent is compared with PostgreSQL, and what the relay
 *                          failed to deliver is sent ({@link SessionReconciler}); also right after a broker reconnect
 * @param maxPendingUpdates job updates this instance holds while its relay thread is busy (pushing to its own
 *                          clients, publishing to the other gateways); an update beyond that is dropped, counted in
 *                          {@code gpu.gateway.websocket.updates.dropped} and logged at most once a minute, and its
 *                          change reaches the clients through the reconcile instead. Each holds the job's view (a
 *                          few KB with a long prompt)
 * @param maxSessionsPerKey open sessions one key may hold on this instance; one more is refused (error frame
 *                          {@code too-many-sessions}, closed with 4429)
 * @param maxUnauthenticatedSessions sessions on this instance that have not authenticated yet (each may wait
 *                          {@code auth-timeout}); a connection beyond that is closed at once with 1013 (try again later)
 */
@Validated
@ConfigurationProperties("gateway.websocket")
public record RelayProperties(
        @DefaultValue("5s") Duration authTimeout,
        @DefaultValue("75ms") Duration positionDebounce,
        @DefaultValue("*") List<String> allowedOrigins,
        @DefaultValue("16384") @Min(256) int maxFrameBytes,
        @DefaultValue("10s") Duration sendTimeout,
        @DefaultValue("1000") @Min(10) int maxQueuedFrames,
        @DefaultValue("4") @Min(1) int sendThreads,
        @DefaultValue("5s") Duration reconcileInterval,
        @DefaultValue("50000") @Min(1) int maxPendingUpdates,
        @DefaultValue("10") @Min(1) int maxSessionsPerKey,
        @DefaultValue("200") @Min(1) int maxUnauthenticatedSessions) {}
