package io.forgequeue.systemtest.ops;

import static io.forgequeue.systemtest.ops.OpsFiles.list;
import static io.forgequeue.systemtest.ops.OpsFiles.map;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import tools.jackson.databind.json.JsonMapper;

/**
 * An image archive in the docker-archive format ({@code docker save}, Jib's buildTar): its tags, its container
 * configuration and its layers in order, each with the comment the image history gives it (Jib names its layers
 * "dependencies", "project dependencies", "resources", "classes", "jvm arg files").
 */
final class ImageArchive {

    /** Files of a layer whose content is kept (small text files Jib writes). */
    private static final Set<String> KEPT = Set.of("app/jib-classpath-file", "app/jib-main-class-file");

    /**
     * One layer.
     *
     * @param comment  what the image history says the layer is (null if the history does not say)
     * @param files       paths of the regular files in the layer
     * @param directories paths of the directories in the layer, without a trailing slash
     * @param contents    contents of the small files Jib writes (jib-classpath-file, jib-main-class-file)
     */
    record Layer(String comment, Set<String> files, Set<String> directories, Map<String, String> contents) {}

    private final List<String> repoTags;
    private final Map<String, Object> configFile;
    private final List<Layer> layers;

    private ImageArchive(List<String> repoTags, Map<String, Object> configFile, List<Layer> layers) {
        this.repoTags = List.copyOf(repoTags);
        this.configFile = configFile;
        this.layers = List.copyOf(layers);
    }

    @SuppressWarnings("unchecked")
    static ImageArchive read(Path tar) {
        try (InputStream in = Files.newInputStream(tar)) {
            Map<String, byte[]> files = new LinkedHashMap<>();
            for (TarEntries.Entry e : TarEntries.read(in, name -> true)) {
                if (e.content() != null) {
                    files.put(e.name(), e.content());
                }
            }
            JsonMapper json = JsonMapper.builder().build();
            List<Object> manifests = json.readValue(file(files, "manifest.json", tar), List.class);
            if (manifests.size() != 1) {
                throw new AssertionError(tar + ": manifest.json lists " + manifests.size() + " images, expected 1");
            }
            Map<String, Object> manifest = (Map<String, Object>) manifests.get(0);
            Map<String, Object> config = json.readValue(file(files, (String) manifest.get("Config"), tar), Map.class);
            List<String> comments = new ArrayList<>();
            for (Map<String, Object> h : list(config, "history")) {
                if (!Boolean.TRUE.equals(h.get("empty_layer"))) {
                    comments.add((String) h.get("comment"));
                }
            }
            List<Layer> layers = new ArrayList<>();
            List<String> layerFiles = (List<String>) manifest.get("Layers");
            for (int i = 0; i < layerFiles.size(); i++) {
                String comment = i < comments.size() ? comments.get(i) : null;
                layers.add(layer(comment, file(files, layerFiles.get(i), tar)));
            }
            return new ImageArchive((List<String>) manifest.getOrDefault("RepoTags", List.of()), config, layers);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the image archive " + tar, e);
        }
    }

    private static byte[] file(Map<String, byte[]> files, String name, Path tar) {
        byte[] content = files.get(name);
        if (content == null) {
            throw new AssertionError(tar + " has no " + name + " (not a docker-archive image?)");
        }
        return content;
    }

    private static Layer layer(String comment, byte[] blob) throws IOException {
        InputStream in = new ByteArrayInputStream(blob);
        if (blob.length > 2 && (blob[0] & 0xff) == 0x1f && (blob[1] & 0xff) == 0x8b) {
            in = new GZIPInputStream(in);
        }
        Set<String> files = new LinkedHashSet<>();
        Set<String> directories = new LinkedHashSet<>();
        Map<String, String> contents = new LinkedHashMap<>();
        for (TarEntries.Entry e : TarEntries.read(in, KEPT::contains)) {
            if (e.isFile()) {
                files.add(e.name());
            } else if (e.isDirectory()) {
                directories.add(
                        e.name().endsWith("/") ? e.name().substring(0, e.name().length() - 1) : e.name());
            }
            if (e.content() != null) {
                contents.put(e.name(), new String(e.content(), StandardCharsets.UTF_8));
            }
        }
        return new Layer(comment, files, directories, contents);
    }

    /** The tags the archive gives the image, e.g. ["forge-queue/api-gateway:0.1.0-SNAPSHOT"]. */
    List<String> repoTags() {
        return repoTags;
    }

    /** The container configuration ("config" of the image configuration): Entrypoint, Cmd, Env, User, ... */
    Map<String, Object> config() {
        return map(configFile, "config");
    }

    /** The environment as a map (NAME=value entries of Env). */
    Map<String, String> env() {
        Map<String, String> env = new LinkedHashMap<>();
        Object entries = config().get("Env");
        if (entries instanceof List<?> list) {
            for (Object entry : list) {
                String s = entry.toString();
                int eq = s.indexOf('=');
                env.put(eq < 0 ? s : s.substring(0, eq), eq < 0 ? "" : s.substring(eq + 1));
            }
        }
        return env;
    }

    /** The string list at a key of the container configuration (Entrypoint, Cmd), empty when absent. */
    List<String> strings(String key) {
        Object value = config().get(key);
        if (!(value instanceof List<?> items)) {
            return List.of();
        }
        return items.stream().map(Object::toString).toList();
    }

    List<Layer> layers() {
        return layers;
    }

    /** The layer the image history gives this comment; fails when there is none or several. */
    Layer layer(String comment) {
        List<Layer> found =
                layers.stream().filter(l -> comment.equals(l.comment())).toList();
        if (found.size() != 1) {
            throw new AssertionError(found.size() + " layers named '" + comment + "' in the image; layers: "
                    + layers.stream().map(Layer::comment).toList());
        }
        return found.get(0);
    }

    /** Every regular file of the image (all layers). */
    Set<String> files() {
        Set<String> all = new LinkedHashSet<>();
        layers.forEach(l -> all.addAll(l.files()));
        return all;
    }

    /** Whether any layer has this regular file or directory (a path without a leading slash). */
    boolean has(String path) {
        return layers.stream()
                .anyMatch(l -> l.files().contains(path) || l.directories().contains(path));
    }

    /** The content of one of the small files Jib writes; fails when no layer has it. */
    String text(String path) {
        for (int i = layers.size() - 1; i >= 0; i--) {
            String content = layers.get(i).contents().get(path);
            if (content != null) {
                return content;
            }
        }
        throw new AssertionError("no " + path + " in the image");
    }
}
