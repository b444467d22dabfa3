package io.forgequeue.worker.forge;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.core.io.ClassPathResource;

/** The Forge settings as application.yml and the environment give them (issue 19: the TLS knob). */
class ForgePropertiesBindingTest {

    private static ForgeProperties bind(Map<String, Object> environmentVariables) throws Exception {
        StandardEnvironment environment = new StandardEnvironment();
        environment.getPropertySources().addFirst(new SystemEnvironmentPropertySource("env", environmentVariables));
        new YamlPropertySourceLoader()
                .load("application.yml", new ClassPathResource("application.yml"))
                .forEach(environment.getPropertySources()::addLast);
        return Binder.get(environment)
                .bind("worker.forge", ForgeProperties.class)
                .get();
    }

    @Test
    void readsTheSslBundleFromWorkerForgeSslBundleAsTheDocsSpellIt() throws Exception {
        ForgeProperties props =
                bind(Map.of("FORGE_URL", "https://gpu1.example.com:7443", "WORKER_FORGE_SSL_BUNDLE", "forge"));

        assertThat(props.sslBundle()).isEqualTo("forge");
        assertThat(props.isHttps()).isTrue();
    }

    @Test
    void usesTheJvmsTrustStoreWhenNoBundleIsGiven() throws Exception {
        assertThat(bind(Map.of()).sslBundle()).isNull();
    }
}
