package io.forgequeue.worker;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/**
 * The GPU worker: takes jobs of its pool from RabbitMQ one at a time, runs each on one Stable Diffusion
 * WebUI Forge server and reports every step as a status event. It serves only /actuator over HTTP.
 */
@SpringBootApplication
@ConfigurationPropertiesScan
public class GpuWorkerApplication {

    public static void main(String[] args) {
        SpringApplication.run(GpuWorkerApplication.class, args);
    }
}
