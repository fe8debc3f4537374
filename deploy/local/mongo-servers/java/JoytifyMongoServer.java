// JoytifyMongoServer: runs mongo-java-server with its H2 MVStore backend on 127.0.0.1:PORT, the
// data in one file, until TERM/INT (a shutdown hook commits and closes the store).

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;

public final class JoytifyMongoServer {
    private JoytifyMongoServer() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2) {
            System.err.println("usage: JoytifyMongoServer DATA_FILE PORT");
            System.exit(2);
        }
        int port;
        try {
            port = Integer.parseInt(args[1]);
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 1 || port > 65535) {
            System.err.println("PORT must be 1..65535 (got " + args[1] + ")");
            System.exit(2);
        }
        H2Backend backend = new H2Backend(args[0]);
        MongoServer server = new MongoServer(backend);
        server.bind("127.0.0.1", port);
        System.err.println("mongo-java-server listening on 127.0.0.1:" + port + ", data in " + args[0]);
        // shutdownNow() closes the backend, which commits the MVStore: nothing acknowledged is lost.
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "shutdown"));
        Thread.currentThread().join();
    }
}
