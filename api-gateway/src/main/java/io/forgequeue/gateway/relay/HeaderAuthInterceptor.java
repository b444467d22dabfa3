package io.forgequeue.gateway.relay;

import io.forgequeue.gateway.apikey.ApiKeys;
import io.forgequeue.gateway.apikey.Caller;
import java.util.Map;
import java.util.Optional;
import org.springframework.dao.DataAccessException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.server.ServerHttpRequest;
import org.springframework.http.server.ServerHttpResponse;
import org.springframework.web.socket.WebSocketHandler;
import org.springframework.web.socket.server.HandshakeInterceptor;

/**
 * Lets non-browser clients authenticate the handshake with {@code Authorization: Bearer <key>}. Browsers, which
 * cannot set headers, send an auth frame instead; so a missing or bad header never refuses the handshake.
 */
class HeaderAuthInterceptor implements HandshakeInterceptor {

    static final String CALLER_ATTRIBUTE = HeaderAuthInterceptor.class.getName() + ".caller";

    private final ApiKeys keys;

    HeaderAuthInterceptor(ApiKeys keys) {
        this.keys = keys;
    }

    @Override
    public boolean beforeHandshake(
            ServerHttpRequest request,
            ServerHttpResponse response,
            WebSocketHandler wsHandler,
            Map<String, Object> attributes) {
        String header = request.getHeaders().getFirst(HttpHeaders.AUTHORIZATION);
        if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            try {
                Optional<Caller> caller = keys.authenticate(header.substring(7).trim());
                caller.ifPresent(c -> attributes.put(CALLER_ATTRIBUTE, c));
            } catch (DataAccessException e) {
                // the client can still authenticate with a frame once the database is back
            }
        }
        return true;
    }

    @Override
    public void afterHandshake(
            ServerHttpRequest request, ServerHttpResponse response, WebSocketHandler wsHandler, Exception exception) {}
}
