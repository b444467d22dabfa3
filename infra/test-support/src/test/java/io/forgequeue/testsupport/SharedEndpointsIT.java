package io.forgequeue.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class SharedEndpointsIT {

    @Test
    void concurrentCallersShareOneBrokerAndOneDatabaseServer() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Object>> results = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                Callable<Object> call = i % 2 == 0 ? TestInfrastructure::rabbit : TestInfrastructure::postgres;
                results.add(pool.submit(call));
            }
            List<Object> endpoints = new ArrayList<>();
            for (Future<Object> result : results) {
                endpoints.add(result.get());
            }

            assertThat(endpoints.stream().distinct())
                    .hasSize(2)
                    .containsExactlyInAnyOrder(TestInfrastructure.rabbit(), TestInfrastructure.postgres());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void springPropertiesOfRealEndpointsPointAtThem() {
        RabbitEndpoint rabbit = TestInfrastructure.rabbit();
        PostgresEndpoint postgres = TestInfrastructure.postgres();

        assertThat(TestInfrastructure.springProperties(rabbit, postgres))
                .containsEntry("spring.rabbitmq.addresses", rabbit.host() + ":" + rabbit.port())
                .containsEntry("spring.datasource.url", postgres.jdbcUrl());
    }
}
