package io.forgequeue.gateway.system;

import jakarta.persistence.EntityManagerFactory;
import javax.sql.DataSource;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Primary;
import org.springframework.data.jpa.repository.config.EnableJpaRepositories;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.orm.jpa.JpaTransactionManager;

/**
 * Two transaction managers on the one data source (docs/decisions/0001). The primary one, behind every
 * {@code TransactionTemplate} and {@code @Transactional} without a name, is the plain
 * {@link DataSourceTransactionManager}: the guarded SQL of the job state moves runs exactly as without JPA (a
 * {@link JpaTransactionManager} would open a Hibernate session per transaction: in a rough measurement of a
 * one-statement transaction on the shared build machine, a median of about 0.25 ms against 0.2 ms once warm, several
 * times more before the JIT warmed up). Spring Data JPA repositories, and the services that change entities,
 * use {@value #JPA_TRANSACTIONS}.
 */
@Configuration(proxyBeanMethods = false)
@EnableJpaRepositories(
        basePackages = "io.forgequeue.gateway",
        transactionManagerRef = PersistenceConfiguration.JPA_TRANSACTIONS)
public class PersistenceConfiguration {

    /** The bean name of the transaction manager for JPA work ({@code @Qualifier}). */
    public static final String JPA_TRANSACTIONS = "jpaTransactionManager";

    @Bean
    @Primary
    DataSourceTransactionManager transactionManager(DataSource dataSource) {
        return new DataSourceTransactionManager(dataSource);
    }

    @Bean(JPA_TRANSACTIONS)
    JpaTransactionManager jpaTransactionManager(EntityManagerFactory entityManagerFactory) {
        return new JpaTransactionManager(entityManagerFactory);
    }
}
