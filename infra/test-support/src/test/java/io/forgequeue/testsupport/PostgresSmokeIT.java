package io.forgequeue.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The database the harness hands out takes Flyway migrations and keeps what is written to it. */
class PostgresSmokeIT {

    private static PostgresEndpoint database;
    private static MigrateResult migration;

    @BeforeAll
    static void migrate() {
        database = TestInfrastructure.postgres().withFreshDatabase("pg_smoke");
        migration = Flyway.configure()
                .dataSource(database.jdbcUrl(), database.username(), database.password())
                .locations("classpath:db/smoke")
                .load()
                .migrate();
    }

    @Test
    void flywayAppliesEveryMigrationToTheFreshDatabase() throws Exception {
        assertThat(migration.success).isTrue();
        assertThat(migration.migrationsExecuted).isEqualTo(2);
        assertThat(migration.targetSchemaVersion).isEqualTo("2");

        try (Connection connection = database.connect();
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery(
                        "select version, success from flyway_schema_history where version is not null order by installed_rank")) {
            List<String> applied = new ArrayList<>();
            while (rows.next()) {
                assertThat(rows.getBoolean("success")).isTrue();
                applied.add(rows.getString("version"));
            }
            assertThat(applied).containsExactly("1", "2");
        }
    }

    @Test
    void rowsWrittenInOneConnectionAreReadInAnother() throws Exception {
        UUID first = UUID.randomUUID();
        UUID second = UUID.randomUUID();
        try (Connection writer = database.connect();
                PreparedStatement insert = writer.prepareStatement(
                        "insert into smoke_job (id, status, spec) values (?, ?, cast(? as jsonb))")) {
            insert.setObject(1, first);
            insert.setString(2, "QUEUED");
            insert.setString(3, "{\"prompt\": \"a cat\", \"steps\": 20}");
            insert.executeUpdate();
            insert.setObject(1, second);
            insert.setString(2, "RUNNING");
            insert.setString(3, "{\"prompt\": \"a dog\"}");
            insert.executeUpdate();
        }

        try (Connection reader = database.connect();
                PreparedStatement select = reader.prepareStatement(
                        "select id, status, spec ->> 'prompt' as prompt, ticket from smoke_job where id in (?, ?) order by ticket")) {
            select.setObject(1, first);
            select.setObject(2, second);
            try (ResultSet rows = select.executeQuery()) {
                assertThat(rows.next()).isTrue();
                assertThat(rows.getObject("id", UUID.class)).isEqualTo(first);
                assertThat(rows.getString("status")).isEqualTo("QUEUED");
                assertThat(rows.getString("prompt")).isEqualTo("a cat");
                long firstTicket = rows.getLong("ticket");
                assertThat(rows.next()).isTrue();
                assertThat(rows.getObject("id", UUID.class)).isEqualTo(second);
                assertThat(rows.getString("prompt")).isEqualTo("a dog");
                assertThat(rows.getLong("ticket")).isGreaterThan(firstTicket);
                assertThat(rows.next()).isFalse();
            }
        }
    }

    @Test
    void anotherFreshDatabaseIsEmptyAndSeparate() throws Exception {
        PostgresEndpoint other = TestInfrastructure.postgres().withFreshDatabase("pg_smoke");

        assertThat(other.database()).isNotEqualTo(database.database());
        try (Connection connection = other.connect();
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("select to_regclass('public.smoke_job') is null")) {
            assertThat(rows.next()).isTrue();
            assertThat(rows.getBoolean(1))
                    .as("smoke_job must not exist in %s", other.database())
                    .isTrue();
        }
    }
}
