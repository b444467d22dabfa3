/** The api-gateway application: REST API, WebSocket relay, PostgreSQL state and event merge of Forge Queue. */
package io.forgequeue.gateway;
