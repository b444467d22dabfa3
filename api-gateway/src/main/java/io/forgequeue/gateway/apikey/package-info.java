/** API keys: hashed storage, the bootstrap key, authentication of every REST request and WebSocket session, and their administration (create, limits, disable). */
package io.forgequeue.gateway.apikey;
