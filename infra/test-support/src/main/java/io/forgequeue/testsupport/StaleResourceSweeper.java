package io.forgequeue.testsupport;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes fresh virtual hosts and databases whose creating JVM has ended, on the long-lived local test
 * servers only (containers die with the JVM; servers given by environment variables are not ours to
 * clean). Without it every test run would leave its virtual hosts and databases behind for good. Runs in
 * a daemon thread; whatever is left when the JVM exits is removed by the next one.
 */
final class StaleResourceSweeper {

    private static final Logger log = LoggerFactory.getLogger(StaleResourceSweeper.class);

    private StaleResourceSweeper() {}

    static void sweepInBackground(RabbitEndpoint rabbit) {
        start("fq-sweep-vhosts", () -> {
            RabbitManagementClient management = new RabbitManagementClient(rabbit);
            int deleted = 0;
            for (String name : management.virtualHostNames()) {
                if (creatorGone(name)) {
                    management.deleteVirtualHost(name);
                    deleted++;
                }
            }
            log.debug("Deleted {} virtual hosts left by ended test JVMs on {}", deleted, rabbit.addresses());
        });
    }

    static void sweepInBackground(PostgresEndpoint postgres) {
        start("fq-sweep-databases", () -> {
            int dropped = 0;
            try (Connection connection = postgres.connect();
                    Statement statement = connection.createStatement()) {
                List<String> names = new ArrayList<>();
                try (ResultSet rows = statement.executeQuery(
                        "select datname from pg_database where datname ~ '_fq[0-9]+_[a-z0-9]{6}$'")) {
                    while (rows.next()) {
                        names.add(rows.getString(1));
                    }
                }
                for (String name : names) {
                    if (creatorGone(name) && !name.equals(postgres.database())) {
                        try {
                            statement.execute("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
                            dropped++;
                        } catch (SQLException e) {
                            log.debug("Could not drop stale database {}: {}", name, e.getMessage());
                        }
                    }
                }
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
            log.debug("Dropped {} databases left by ended test JVMs on {}", dropped, postgres.jdbcUrl());
        });
    }

    private static boolean creatorGone(String name) {
        OptionalLong pid = FreshNames.creatorPid(name);
        return pid.isPresent()
                && ProcessHandle.of(pid.getAsLong()).map(p -> !p.isAlive()).orElse(true);
    }

    private static void start(String name, Runnable sweep) {
        Thread thread = new Thread(
                () -> {
                    try {
                        sweep.run();
                    } catch (RuntimeException e) {
                        log.debug(
                                "Sweeping leftovers failed (harmless, retried by the next test JVM): {}", e.toString());
                    }
                },
                name);
        thread.setDaemon(true);
        thread.start();
    }
}
