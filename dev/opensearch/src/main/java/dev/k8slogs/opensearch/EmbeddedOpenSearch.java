package dev.k8slogs.opensearch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.core.common.transport.TransportAddress;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A single-node OpenSearch for development and tests, started in-process from the
 * Maven Central jars (no distribution tarball, no Docker).
 *
 * <p>Contract with the launcher script (dev/opensearch/opensearch-process.ts):
 * <ul>
 *   <li>arguments: {@code --data-dir DIR [--http-port N] [--cluster-name NAME]
 *       [--node-name NAME] [--parent-pid PID]}; port 0 lets the OS pick one;</li>
 *   <li>once HTTP is bound it prints exactly one line
 *       {@code EMBEDDED_OPENSEARCH_HTTP 127.0.0.1:PORT} on stdout;</li>
 *   <li>SIGTERM closes the node (flushes shards, releases the data-dir lock) and exits;</li>
 *   <li>with {@code --parent-pid} it exits by itself when that process is gone, so a
 *       crashed test runner does not leave a JVM behind;</li>
 *   <li>the node log goes to DIR/logs/opensearch.log, warnings also to stderr;</li>
 *   <li>startup failure: stack trace on stderr, exit status 1.</li>
 * </ul>
 *
 * <p>No security manager is installed (unlike bin/opensearch): this node binds to
 * loopback only and runs trusted code.
 */
public final class EmbeddedOpenSearch extends Node {

    /** Printed on stdout when the HTTP transport is bound; parsed by the TS launcher. */
    static final String READY_PREFIX = "EMBEDDED_OPENSEARCH_HTTP ";

    /** Modules a distribution would load from modules/; here they come from the classpath. */
    static final List<Class<? extends Plugin>> PLUGINS = List.of(
        Netty4Plugin.class,
        CommonAnalysisPlugin.class,
        MapperExtrasPlugin.class,
        PainlessPlugin.class,
        ReindexPlugin.class
    );

    private EmbeddedOpenSearch(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        super(environment, plugins, true);
    }

    public static void main(String[] args) throws Exception {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("embedded-opensearch: " + e.getMessage());
            System.err.println(Options.USAGE);
            System.exit(2);
            return;
        }

        Path home = options.dataDir.toAbsolutePath().normalize();
        Path logs = home.resolve("logs");
        Files.createDirectories(logs);
        Files.createDirectories(home.resolve("config"));
        // Must be set before the first logger is created: log4j2.properties reads it, and
        // log4j's own shutdown hook would otherwise stop logging before the node has closed.
        System.setProperty("k8slogs.opensearch.logFile", logs.resolve("opensearch.log").toString());
        System.setProperty("log4j.shutdownHookEnabled", "false");
        System.setProperty("log4j2.disable.jmx", "true");

        Settings settings = Settings.builder()
            .put("cluster.name", options.clusterName)
            .put("node.name", options.nodeName)
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", logs.toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", Integer.toString(options.httpPort))
            .put("transport.port", "0")
            .put("discovery.type", "single-node")
            // Dev machines often have nearly full disks; never go read-only because of it.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("bootstrap.memory_lock", false)
            .build();

        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Collections.emptyMap(), home.resolve("config"), () -> options.nodeName);

        CountDownLatch stopped = new CountDownLatch(1);
        EmbeddedOpenSearch node;
        try {
            node = new EmbeddedOpenSearch(environment, PLUGINS);
        } catch (Exception | Error e) {
            e.printStackTrace();
            System.err.println("embedded-opensearch: failed to create node: " + causes(e));
            LogManager.shutdown();
            System.exit(1);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                if (!node.awaitClose(30, TimeUnit.SECONDS)) {
                    System.err.println("embedded-opensearch: node did not close within 30s");
                }
            } catch (IOException | InterruptedException e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
                LogManager.shutdown();
            }
        }, "embedded-opensearch-shutdown"));

        try {
            node.start();
        } catch (Exception | Error e) {
            e.printStackTrace();
            System.err.println("embedded-opensearch: failed to start node: " + causes(e));
            System.exit(1);
            return;
        }

        TransportAddress http = node.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress();
        System.out.println(READY_PREFIX + http.getAddress() + ":" + http.getPort());
        System.out.flush();

        if (options.parentPid > 0) {
            watchParent(options.parentPid);
        }
        // OpenSearch's threads are daemons: this non-daemon main thread keeps the JVM up
        // until a shutdown hook (SIGTERM, SIGINT, System.exit) has closed the node.
        stopped.await();
    }

    /** One line naming every cause, printed last so it is in the launcher's log tail. */
    private static String causes(Throwable e) {
        StringBuilder out = new StringBuilder();
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (out.length() > 0) {
                out.append(" <- ");
            }
            out.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
        }
        return out.toString();
    }

    private static void watchParent(long pid) {
        Thread watcher = new Thread(() -> {
            while (true) {
                boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
                if (!alive) {
                    System.err.println("embedded-opensearch: parent process " + pid + " is gone, shutting down");
                    System.exit(0);
                    return;
                }
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "embedded-opensearch-parent-watch");
        watcher.setDaemon(true);
        watcher.start();
    }

    private static final class Options {
        static final String USAGE =
            "usage: java -jar embedded-opensearch.jar --data-dir DIR [--http-port N] "
                + "[--cluster-name NAME] [--node-name NAME] [--parent-pid PID]";

        Path dataDir;
        int httpPort = 9200;
        String clusterName = "k8s-logs-dev";
        String nodeName = "dev-node";
        long parentPid = 0;

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String name = args[i];
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("missing value for " + name);
                }
                String value = args[++i];
                switch (name) {
                    case "--data-dir" -> o.dataDir = Paths.get(value);
                    case "--http-port" -> o.httpPort = parseInt(name, value, 0, 65535);
                    case "--cluster-name" -> o.clusterName = value;
                    case "--node-name" -> o.nodeName = value;
                    case "--parent-pid" -> o.parentPid = parseInt(name, value, 1, Integer.MAX_VALUE);
                    default -> throw new IllegalArgumentException("unknown argument " + name);
                }
            }
            if (o.dataDir == null) {
                throw new IllegalArgumentException("--data-dir is required");
            }
            return o;
        }

        private static int parseInt(String name, String value, int min, int max) {
            try {
                int n = Integer.parseInt(value);
                if (n < min || n > max) {
                    throw new IllegalArgumentException(name + " must be in [" + min + ", " + max + "], got " + value);
                }
                return n;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " must be an integer, got " + value);
            }
        }
    }
}
