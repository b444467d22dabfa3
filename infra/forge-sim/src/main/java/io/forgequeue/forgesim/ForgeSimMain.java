package io.forgequeue.forgesim;

import java.io.IOException;
import java.util.Arrays;

/**
 * Command-line entry point: {@code java -jar forge-sim.jar --port 7861 [options]}. Once both ports listen it prints
 * one machine-readable line on stdout, {@code forge-sim listening api=<port> admin=<port>}, and nothing else on
 * stdout; logs go to stderr. SIGTERM (or Ctrl-C) stops it gracefully.
 */
public final class ForgeSimMain {

    /** Prefix of the line printed once the sim listens; {@link ForgeSimProcess} waits for it. */
    public static final String LISTENING_PREFIX = "forge-sim listening ";

    private ForgeSimMain() {}

    public static void main(String[] args) throws IOException, InterruptedException {
        System.setProperty("java.awt.headless", "true");
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tT.%1$tL %4$s forge-sim: %5$s%6$s%n");
        }
        if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
            System.out.print(SimConfig.usage());
            return;
        }
        SimConfig config;
        try {
            config = SimConfig.parse(args, System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("forge-sim: " + e.getMessage());
            System.err.print(SimConfig.usage());
            System.exit(2);
            return;
        }
        ForgeSimServer server = ForgeSimServer.start(config);
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "forge-sim-shutdown"));
        System.out.println(LISTENING_PREFIX + "api=" + server.apiPort() + " admin=" + server.adminPort());
        System.out.flush();
        System.err.printf(
                "forge-sim: Forge API %s (step %s ms, model load %d ms, auth %s), admin %s%n",
                server.baseUrl(),
                config.stepMs(),
                config.modelLoadMs(),
                config.apiAuth() == null ? "off" : "on",
                server.adminUrl());
        server.awaitClose();
    }
}
