package io.forgequeue.worker.forge;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A stable name for the Forge server this worker drives, so that two workers on one Forge can be told from two workers
 * on two Forges (one worker per Forge: forge-api.md §11.1). It is the configured URL, normalized:
 * <ul>
 *   <li>scheme and host in lower case, a trailing dot of the host dropped, an IP literal in its canonical form;</li>
 *   <li>the port always written (80 for http, 443 for https when the URL has none);</li>
 *   <li>user info, query and fragment dropped, trailing slashes of the path dropped;</li>
 *   <li>a loopback or wildcard host ({@code localhost}, {@code 127.0.0.1}, {@code ::1}, {@code 0.0.0.0}) replaced by
 *       this machine's host name: "localhost" on two machines are two Forges, while {@code localhost} and
 *       {@code 127.0.0.1} on one machine are the same one.</li>
 * </ul>
 * Names are not resolved (a Forge reached through two DNS names, or a name and its IP, gets two identities).
 *
 * @param value e.g. {@code http://gpu-box-1:7861} or {@code https://forge.example.org:443/sd}
 */
public record ForgeIdentity(String value) {

    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    /**
     * @param url       Forge's base URL as configured
     * @param localHost this machine's host name, used for a loopback URL
     */
    public static ForgeIdentity of(URI url, String localHost) {
        String scheme = url.getScheme() == null ? "http" : url.getScheme().toLowerCase(Locale.ROOT);
        String host = url.getHost() == null ? "" : url.getHost().toLowerCase(Locale.ROOT);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        while (host.endsWith(".")) {
            host = host.substring(0, host.length() - 1);
        }
        host = canonical(host, localHost);
        int port = url.getPort() > 0 ? url.getPort() : "https".equals(scheme) ? 443 : 80;
        String path = url.getRawPath() == null ? "" : url.getRawPath();
        while (path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        String shownHost = host.contains(":") ? "[" + host + "]" : host;
        return new ForgeIdentity(scheme + "://" + shownHost + ":" + port + path);
    }

    /** This machine's host name, for {@link #of}: the JDK's, else {@code HOSTNAME}, else "localhost". */
    public static String localHostName() {
        try {
            return InetAddress.getLocalHost().getHostName().toLowerCase(Locale.ROOT);
        } catch (UnknownHostException | RuntimeException e) {
            return System.getenv().getOrDefault("HOSTNAME", "localhost").toLowerCase(Locale.ROOT);
        }
    }

    private static String canonical(String host, String localHost) {
        if (host.equals("localhost") || host.endsWith(".localhost")) {
            return localHost.toLowerCase(Locale.ROOT);
        }
        if (IPV4.matcher(host).matches() || host.contains(":")) {
            try {
                InetAddress address = InetAddress.getByName(host); // a literal: no lookup
                if (address.isLoopbackAddress() || address.isAnyLocalAddress()) {
                    return localHost.toLowerCase(Locale.ROOT);
                }
                return address.getHostAddress();
            } catch (UnknownHostException e) {
                return host;
            }
        }
        return host;
    }

    @Override
    public String toString() {
        return value;
    }
}
