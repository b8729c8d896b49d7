package io.sregraph.neo4jlauncher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/**
 * Runs a Neo4j community server in-process, listening for Bolt on 127.0.0.1
 * only, with authentication disabled. Usage:
 *
 * <pre>Launcher DATA_DIR PORT URI_FILE</pre>
 *
 * PORT 0 lets the server pick a free port. Once Bolt is up the URI is written
 * atomically to URI_FILE and printed; the server stops on SIGTERM.
 */
public final class Launcher {
    private Launcher() {}

    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length != 3) {
            System.err.println("usage: Launcher DATA_DIR PORT URI_FILE");
            System.exit(2);
        }
        Path dataDir = Path.of(args[0]);
        int port = Integer.parseInt(args[1]);
        Path uriFile = Path.of(args[2]);
        Files.createDirectories(dataDir);

        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(dataDir)
                .withDisabledServer()
                .withConfig(GraphDatabaseSettings.auth_enabled, false)
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .withConfig(HttpConnector.enabled, false)
                .withConfig(HttpsConnector.enabled, false)
                .withConfig(GraphDatabaseSettings.pagecache_memory, 256L * 1024 * 1024)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            neo4j.close();
            stopped.countDown();
        }, "neo4j-shutdown"));

        String uri = "bolt://127.0.0.1:" + neo4j.boltURI().getPort();
        Path tmp = uriFile.resolveSibling(uriFile.getFileName() + ".tmp");
        Files.writeString(tmp, uri + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, uriFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        System.out.println("neo4j " + org.neo4j.kernel.internal.Version.getNeo4jVersion() + " listening on " + uri);
        System.out.flush();
        stopped.await();
    }
}
