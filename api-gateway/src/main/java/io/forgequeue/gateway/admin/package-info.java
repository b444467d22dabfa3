/** The operators' HTTP API under {@code /api/v1/admin/}: API keys and their limits, behind admin tokens that are never API keys. */
package io.forgequeue.gateway.admin;
