package io.forgequeue.systemtest.ops;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * The container images the Maven build defines, read from the POMs: the parent's jib-maven-plugin configuration
 * names every image {@code ${image.registry}/${project.artifactId}:${project.version}}, and a module builds one when
 * it sets {@code image.skip} to false. The names here are the defaults (no {@code -Dimage.registry}), which
 * infra/compose.yaml and infra/k8s/ refer to. Static helpers for the ops tests.
 */
final class ImageDefinitions {

    /** The modules that build an image: artifactId -> module directory. */
    static final Map<String, String> APP_MODULES = Map.of(
            "api-gateway", "api-gateway",
            "gpu-worker", "gpu-worker",
            "forge-sim", "infra/forge-sim");

    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([^}]+)}");

    private ImageDefinitions() {}

    /** The project's version (the root pom.xml), which is every image's tag. */
    static String projectVersion() {
        return text(child(rootPom(), "version"));
    }

    /** A property of the root pom.xml, or null. */
    static String rootProperty(String name) {
        Element value = child(child(rootPom(), "properties"), name);
        return value == null ? null : text(value);
    }

    /** A property of a module's pom.xml (not inherited ones), or null. */
    static String moduleProperty(String module, String name) {
        Element value = child(child(pom(module + "/pom.xml"), "properties"), name);
        return value == null ? null : text(value);
    }

    /** The modules the root pom.xml lists. */
    static List<String> modules() {
        Element modules = child(rootPom(), "modules");
        return children(modules, "module").stream().map(ImageDefinitions::text).toList();
    }

    /** The full reference of an app's image as the build names it by default, e.g. forge-queue/api-gateway:0.1.0. */
    static String reference(String artifactId) {
        Map<String, String> values = new LinkedHashMap<>();
        values.put("image.registry", rootProperty("image.registry"));
        values.put("project.artifactId", artifactId);
        values.put("project.version", projectVersion());
        Matcher m = PLACEHOLDER.matcher(jibSetting("to", "image"));
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = values.get(m.group(1));
            if (value == null) {
                throw new AssertionError("the image name template " + jibSetting("to", "image") + " uses ${"
                        + m.group(1) + "}, which this test does not know: update ImageDefinitions");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** The reference without its tag, e.g. forge-queue/api-gateway. */
    static String repository(String artifactId) {
        return withoutTag(reference(artifactId));
    }

    /** "registry:5000/a/b:tag" -> "registry:5000/a/b" (a digest is dropped too). */
    static String withoutTag(String reference) {
        String name = reference.contains("@") ? reference.substring(0, reference.indexOf('@')) : reference;
        int colon = name.lastIndexOf(':');
        return colon > name.lastIndexOf('/') ? name.substring(0, colon) : name;
    }

    /** The tag of a reference, or null. */
    static String tagOf(String reference) {
        String name = withoutTag(reference);
        return reference.length() > name.length() && reference.charAt(name.length()) == ':'
                ? reference.substring(name.length() + 1)
                : null;
    }

    /** A setting of the parent's jib-maven-plugin configuration, e.g. ("to", "image"); as written, unresolved. */
    static String jibSetting(String... path) {
        Element plugins = child(child(child(rootPom(), "build"), "pluginManagement"), "plugins");
        Element jib = children(plugins, "plugin").stream()
                .filter(p -> "jib-maven-plugin".equals(text(child(p, "artifactId"))))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no jib-maven-plugin in the root pom.xml's pluginManagement"));
        Element node = child(jib, "configuration");
        for (String name : path) {
            node = child(node, name);
        }
        if (node == null) {
            throw new AssertionError("no " + String.join("/", path) + " in the jib-maven-plugin configuration");
        }
        return text(node);
    }

    /** The packaged runnable jar of an app module (what java -jar and the system tests run). */
    static Path runnableJar(String artifactId) {
        return OpsFiles.path(APP_MODULES.get(artifactId) + "/target/" + artifactId + "-" + projectVersion() + ".jar");
    }

    /** The image the package phase built onto the stand-in base (the image-check execution in the parent POM). */
    static Path checkImage(String artifactId) {
        return OpsFiles.path(APP_MODULES.get(artifactId) + "/target/image-check/image.tar");
    }

    // ---- XML ------------------------------------------------------------------------------------------------------

    private static Element rootPom() {
        return pom("pom.xml");
    }

    private static Element pom(String relative) {
        try {
            DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
            factory.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
            Document document =
                    factory.newDocumentBuilder().parse(OpsFiles.path(relative).toFile());
            return document.getDocumentElement();
        } catch (Exception e) {
            throw new AssertionError("cannot parse " + relative + ": " + e, e);
        }
    }

    private static Element child(Element parent, String name) {
        if (parent == null) {
            return null;
        }
        List<Element> found = children(parent, name);
        return found.isEmpty() ? null : found.get(0);
    }

    private static List<Element> children(Element parent, String name) {
        if (parent == null) {
            return List.of();
        }
        List<Element> out = new ArrayList<>();
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && name.equals(e.getTagName())) {
                out.add(e);
            }
        }
        return out;
    }

    private static String text(Element element) {
        return element == null ? null : element.getTextContent().trim();
    }
}
