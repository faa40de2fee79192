import java.util.HashMap;
import java.util.Map;

import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * Starts one real OpenSearch node in this JVM (single-file source launcher).
 *
 * <p>Arguments: {@code --base-path DIR --http-port P --transport-port T}, and to join a cluster of
 * several such processes {@code --node-name N --cluster-name C --seed-hosts H:T,H:T} with optionally
 * {@code --initial-managers N1,N2} (on the nodes that bootstrap the cluster) and {@code --roles
 * data,ingest}. Without {@code --seed-hosts} the node is a single-node cluster. Prints {@code NODE
 * READY http=P} once the cluster is yellow, then runs until killed. The stock {@code
 * OpenSearchRunner.main} swallows start-up exceptions, so this launcher exits non-zero instead.
 */
public class RunNode {
  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      opts.put(args[i], args[i + 1]);
    }
    final String basePath = require(opts, "--base-path");
    final int httpPort = Integer.parseInt(require(opts, "--http-port"));
    final String transportPort = require(opts, "--transport-port");
    final String seedHosts = opts.get("--seed-hosts");
    final String nodeName = opts.get("--node-name");
    final String managers = opts.get("--initial-managers");
    final String roles = opts.get("--roles");
    final String clusterName = opts.getOrDefault("--cluster-name", "lienhop-test-" + httpPort);

    final OpenSearchRunner runner = new OpenSearchRunner();
    // The default ceiling (9299) rejects any other port.
    runner.setMaxHttpPort(65535);
    runner.onBuild((number, settings) -> {
      settings.put("http.port", Integer.toString(httpPort));
      settings.put("transport.port", transportPort);
      settings.put("network.host", "127.0.0.1");
      if (seedHosts == null) {
        settings.put("discovery.type", "single-node");
      } else {
        // The runner makes a one-node build single-node unless told otherwise; "zen" is the default
        // discovery that finds the other processes through the seed hosts.
        settings.put("discovery.type", "zen");
        settings.putList("discovery.seed_hosts", seedHosts.split(","));
        if (managers != null) {
          settings.putList("cluster.initial_cluster_manager_nodes", managers.split(","));
        }
      }
      if (nodeName != null) {
        settings.put("node.name", nodeName);
      }
      if (roles != null) {
        settings.putList("node.roles", roles.split(","));
      }
      // A nearly full developer disk must not turn test indexes read-only.
      settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
      settings.put("action.auto_create_index", "false");
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        runner.close();
      } catch (Exception e) {
        e.printStackTrace();
      }
    }));
    try {
      runner.build(OpenSearchRunner.newConfigs()
          .basePath(basePath)
          .numOfNode(1)
          .baseHttpPort(httpPort - 1)
          .clusterName(clusterName)
          .build());
      runner.ensureYellow();
    } catch (Throwable t) {
      t.printStackTrace();
      System.out.flush();
      System.exit(2);
    }
    System.out.println("NODE READY http=" + httpPort);
    System.out.flush();
    while (!runner.isClosed()) {
      Thread.sleep(1000);
    }
  }

  private static String require(Map<String, String> opts, String name) {
    String value = opts.get(name);
    if (value == null) {
      System.err.println("missing argument " + name);
      System.exit(64);
    }
    return value;
  }
}
