/**
 * The integration-test harness: a real RabbitMQ broker and a real PostgreSQL database for every
 * {@code *IT}, from environment variables, Testcontainers (when a Docker engine answers) or the
 * local server scripts in {@code infra/local}. Entry point: {@link io.forgequeue.testsupport.TestInfrastructure}.
 * For TLS tests: {@link io.forgequeue.testsupport.TestCertificates} (a CA and server certificates made at test time) and
 * {@link io.forgequeue.testsupport.TlsBroker} (a node of one test class's own with an amqps listener).
 */
package io.forgequeue.testsupport;
