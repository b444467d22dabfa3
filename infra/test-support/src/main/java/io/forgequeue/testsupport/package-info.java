/**
 * The integration-test harness: a real RabbitMQ broker and a real PostgreSQL database for every
 * {@code *IT}, from environment variables, Testcontainers (when a Docker engine answers) or the
 * local server scripts in {@code infra/local}. Entry point: {@link io.forgequeue.testsupport.TestInfrastructure}.
 */
package io.forgequeue.testsupport;
