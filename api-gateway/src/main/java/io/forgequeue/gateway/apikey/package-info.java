/** API keys: hashed storage, the bootstrap key, and authentication of every REST request and WebSocket session. */
package io.forgequeue.gateway.apikey;
