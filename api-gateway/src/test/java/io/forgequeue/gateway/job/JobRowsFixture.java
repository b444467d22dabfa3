package io.forgequeue.gateway.job;

import io.forgequeue.gateway.system.WireJson;
import io.forgequeue.testsupport.PostgresEndpoint;
import io.forgequeue.testsupport.TestInfrastructure;
import org.flywaydb.core.Flyway;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.datasource.DriverManagerDataSource;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * For tests that run the job module's statements without a Spring context: a freshly migrated database, the job row
 * mapper and the job moves (for tests outside this package).
 */
public final class JobRowsFixture {

    private JobRowsFixture() {}

    /** A new database on the test PostgreSQL with the gateway's migrations applied. */
    public static DriverManagerDataSource migratedDatabase(String name) {
        PostgresEndpoint db = TestInfrastructure.postgres().withFreshDatabase(name);
        Flyway.configure()
                .dataSource(db.jdbcUrl(), db.username(), db.password())
                .locations("classpath:db/migration")
                // as the gateway (application.yaml): V6 builds an index concurrently, which would wait for ever
                // for the transaction of Flyway's default lock
                .configuration(java.util.Map.of("flyway.postgresql.transactional.lock", "false"))
                .load()
                .migrate();
        return new DriverManagerDataSource(db.jdbcUrl(), db.username(), db.password());
    }

    public static JobRows jobRows(WireJson json) {
        return new JobRows(json);
    }

    public static EventMoves eventMoves(JdbcClient jdbc, WireJson json, TransactionTemplate tx) {
        return new EventMoves(jdbc, new JobRows(json), json, new FlushedCommits(jdbc, tx));
    }
}
