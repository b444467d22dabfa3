package io.forgequeue.systemtest;

import io.forgequeue.forgesim.ForgeSimAdmin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import java.util.regex.Pattern;

import static io.forgequeue.systemtest.ForgeQueueSystem.ALICE_KEY;
import static io.forgequeue.systemtest.ForgeQueueSystem.job;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

/**
 * The web page in headless Chromium (Debian's chromium and chromium-driver) against the real system: sign in,
 * submit a prompt, watch the queue position and progress, see the image, reload and still see it.
 * Screenshots go to {@code infra/system-tests/target/screenshots/}.
 *
 * <p>What the cards show is recorded inside the page (a mutation observer keeps every state of every card, as the
 * browser would paint it), so no state is missed between two polls and the badge and the line under it are always
 * read together. The worker's forge-sim holds jobs mid-sampling ({@link ForgeSimAdmin#holdAtStep(int)}) until the
 * page has shown what the test checks, so no step depends on a job being slow enough (issue 15).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BrowserSystemIT {

    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Duration WAIT = Duration.ofSeconds(30);

    /** Keeps every distinct state of every job card in {@code window.cardStates}, in the order they were shown. */
    private static final String RECORD_CARDS = """
            window.cardStates = [];
            const last = new Map();
            const record = () => {
              for (const card of document.querySelectorAll('#jobs .card')) {
                const live = card.querySelector('.media img.live');
                const state = {
                  jobId: card.dataset.jobId,
                  prompt: card.querySelector('.prompt').textContent,
                  badge: card.querySelector('.badge').innerText,
                  line: card.querySelector('.where').innerText,
                  preview: !!(live && live.getAttribute('src')),
                };
                const key = JSON.stringify(state);
                if (last.get(state.jobId) !== key) {
                  last.set(state.jobId, key);
                  window.cardStates.push(state);
                }
              }
            };
            record();
            if (window.cardObserver) window.cardObserver.disconnect();
            window.cardObserver = new MutationObserver(record);
            window.cardObserver.observe(document.getElementById('jobs'),
                { subtree: true, childList: true, characterData: true, attributes: true });
            """;

    private static final Pattern QUEUED_LINE = Pattern.compile("Position \\d+ in the queue( · about .+)?|Waiting in the queue");
    // the running line names no worker (issue 15, item 11: no worker internals in user views)
    private static final Pattern RUNNING_LINE = Pattern.compile("Generating…|Cancelling…");
    private static final Pattern SUCCEEDED_LINE = Pattern.compile("Done( in [\\d.]+ s| in \\d+ min \\d+ s)?( · seed \\d+)?");

    private ForgeQueueSystem system;
    private ForgeSimAdmin forge;
    private WebDriver browser;
    private Path profile;

    /** One state of a job card as the page showed it: the badge, the line under it, whether a live preview showed. */
    record CardState(String jobId, String prompt, String badge, String line, boolean preview) {

        String status() {
            return badge.split(" ")[0];
        }

        /** Whether the line under the badge tells the same as the badge. */
        boolean lineMatchesBadge() {
            return switch (status()) {
                case "QUEUED" -> QUEUED_LINE.matcher(line).matches();
                case "RUNNING" -> badge.matches("RUNNING \\d+%") && RUNNING_LINE.matcher(line).matches();
                case "SUCCEEDED" -> SUCCEEDED_LINE.matcher(line).matches();
                default -> line.isEmpty();
            };
        }

        @Override
        public String toString() {
            return badge + " | " + line + (preview ? " | live preview" : "");
        }
    }

    /** A result image as rendered: its PNG's size and the box it is drawn in, and the width of its card's content. */
    record RenderedImage(long naturalWidth, long naturalHeight, double width, double height, double mediaWidth) {

        double naturalRatio() {
            return (double) naturalWidth / naturalHeight;
        }

        double renderedRatio() {
            return width / height;
        }
    }

    @BeforeAll
    void start() throws IOException, InterruptedException {
        ensureChromium();
        system = ForgeQueueSystem.start("browser", 1, 1,
                List.of("--step-ms", "40", "--model-load-ms", "0", "--preview-every", "2"),
                Map.of("WORKER_PROGRESS_PREVIEWINTERVAL", "200ms"));
        forge = system.forge().admin();
        profile = Files.createTempDirectory("fq-chromium");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + profile, "--window-size=1280,900");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
    }

    @AfterAll
    void stop() {
        if (browser != null) {
            browser.quit();
        }
        if (system != null) {
            system.close();
        }
    }

    @Test
    @Order(1)
    void aPromptBecomesAnImageWithQueuePositionAndProgressAndSurvivesAReload() {
        Http alice = system.http(0, ALICE_KEY);
        openSignedIn();
        WebDriverWait wait = new WebDriverWait(browser, WAIT);
        recordCards();

        // the job ahead holds the only worker (its Forge stops after step 2), so ours has to wait in line
        forge.holdAtStep(2);
        assertThat(alice.post("/api/v1/jobs", job("the job ahead", 4)).status()).isEqualTo(202);
        awaitSim("the job ahead is held on the GPU", () -> forge.state().heldNow() == 1);
        submitFromTheForm("a lighthouse at dusk, seen from the browser", "512x512", 40);
        String jobId = awaitCard("seen from the browser",
                s -> s.status().equals("QUEUED") && s.line().startsWith("Position 1 in the queue")).jobId();
        screenshot("1-queued");

        // the job ahead finishes (4 steps) and ours runs until the page shows it running; then it moves on to a
        // later step, so its preview there is sent after the page knows the job runs, and stays there until seen
        forge.holdAtStep(20);
        awaitCard("seen from the browser", s -> s.status().equals("RUNNING"));
        forge.holdAtStep(30);
        awaitCard("seen from the browser", s -> s.status().equals("RUNNING") && s.preview());
        screenshot("1b-running-with-preview");
        forge.clearFaults();

        awaitCard("seen from the browser", s -> s.status().equals("SUCCEEDED"));
        RenderedImage square = awaitImage(jobId);
        screenshot("2-done", jobId);
        List<CardState> shown = statesOf("seen from the browser");
        assertThat(shown).as("every state the card showed: %s", shown).allMatch(CardState::lineMatchesBadge)
                .anyMatch(s -> s.status().equals("QUEUED") && s.line().startsWith("Position 1 in the queue"))
                .anyMatch(s -> s.status().equals("RUNNING") && s.preview());
        assertThat(statusesInOrder(shown)).as("states in order: %s", shown).containsExactly("QUEUED", "RUNNING", "SUCCEEDED");
        assertKeepsItsShape(square, 512, 512);

        browser.navigate().refresh();
        wait.until(d -> d.findElement(By.id("conn-text")).getText().equals("live"));
        RenderedImage reloaded = awaitImage(jobId);
        screenshot("3-reloaded", jobId);
        recordCards();
        CardState afterReload = awaitCard("seen from the browser", s -> true);
        assertThat(afterReload.badge()).isEqualTo("SUCCEEDED");
        assertThat(afterReload.line()).isEqualTo(shown.get(shown.size() - 1).line());
        assertKeepsItsShape(reloaded, 512, 512);
    }

    @Test
    @Order(2)
    void aLandscapeJobThatEndsWhileThePageIsCutOffIsShownDoneInItsShapeAfterTheReconnect() {
        openSignedIn();
        recordCards();
        long completed = forge.stats().calls().completed();

        // the job is held on the GPU until the gateway is gone, then finishes while the page cannot hear about it
        forge.holdAtStep(2);
        submitFromTheForm("a wide harbour that ends while the page is cut off", "768x512", 10);
        String jobId = awaitCard("cut off", s -> s.status().equals("RUNNING")).jobId();
        system.gateway(0).kill();
        new WebDriverWait(browser, Duration.ofSeconds(10)).until(d -> !d.findElement(By.id("conn-text")).getText().equals("live"));
        forge.clearFaults();
        awaitSim("the job finished on the GPU", () -> forge.stats().calls().completed() == completed + 1);
        system.gateway(0).restart();
        new WebDriverWait(browser, Duration.ofSeconds(60)).until(d -> d.findElement(By.id("conn-text")).getText().equals("live"));

        awaitCard("cut off", s -> s.status().equals("SUCCEEDED"));
        RenderedImage wide = awaitImage(jobId);
        screenshot("4-after-reconnect", jobId);
        List<CardState> shown = statesOf("cut off");
        assertThat(shown).as("every state the card showed: %s", shown).allMatch(CardState::lineMatchesBadge);
        assertThat(statusesInOrder(shown)).as("states in order: %s", shown).endsWith("RUNNING", "SUCCEEDED")
                .doesNotHaveDuplicates();
        assertKeepsItsShape(wide, 768, 512);

        browser.manage().window().setSize(new Dimension(390, 844));
        browser.navigate().refresh();
        RenderedImage onPhone = awaitImage(jobId);
        screenshot("5-phone-width", jobId);
        Object overflow = js("return document.documentElement.scrollWidth > window.innerWidth");
        assertThat(overflow).as("no sideways scrolling at phone width").isEqualTo(false);
        assertKeepsItsShape(onPhone, 768, 512);
        browser.manage().window().setSize(new Dimension(1280, 900));
    }

    // ---------- the page ----------

    /** Opens the page and signs in with the form, unless the browser still has the key. */
    private void openSignedIn() {
        if (!browser.getCurrentUrl().startsWith(system.gateway(0).baseUrl())) {
            browser.get(system.gateway(0).baseUrl() + "/");
        }
        WebDriverWait wait = new WebDriverWait(browser, WAIT);
        wait.until(d -> d.findElement(By.id("key-input")).isDisplayed() || d.findElement(By.id("prompt")).isDisplayed());
        if (browser.findElement(By.id("key-input")).isDisplayed()) {
            browser.findElement(By.id("key-input")).sendKeys(ALICE_KEY);
            browser.findElement(By.cssSelector("#key-form button")).click();
        }
        wait.until(d -> d.findElement(By.id("prompt")).isDisplayed());
        wait.until(d -> d.findElement(By.id("conn-text")).getText().equals("live"));
    }

    private void submitFromTheForm(String prompt, String size, int steps) {
        WebElement field = browser.findElement(By.id("prompt"));
        field.clear();
        field.sendKeys(prompt);
        WebElement more = browser.findElement(By.tagName("details"));
        if (more.getAttribute("open") == null) {
            browser.findElement(By.tagName("summary")).click();
        }
        new Select(browser.findElement(By.name("size"))).selectByValue(size);
        WebElement stepsField = browser.findElement(By.name("steps"));
        stepsField.clear();
        stepsField.sendKeys(Integer.toString(steps));
        browser.findElement(By.id("submit")).click();
    }

    private void recordCards() {
        js(RECORD_CARDS);
    }

    /** Every state the card whose prompt contains {@code promptPart} showed since {@link #recordCards()}. */
    private List<CardState> statesOf(String promptPart) {
        Object recorded = js("return window.cardStates || []");
        List<CardState> states = new ArrayList<>();
        for (Object o : (List<?>) recorded) {
            Map<?, ?> m = (Map<?, ?>) o;
            CardState s = new CardState((String) m.get("jobId"), (String) m.get("prompt"), (String) m.get("badge"),
                    (String) m.get("line"), Boolean.TRUE.equals(m.get("preview")));
            if (s.prompt().contains(promptPart)) {
                states.add(s);
            }
        }
        return states;
    }

    /** Waits until the card has shown a state that matches, and returns that state. */
    private CardState awaitCard(String promptPart, Predicate<CardState> shown) {
        try {
            return new WebDriverWait(browser, WAIT).pollingEvery(Duration.ofMillis(50))
                    .until(d -> statesOf(promptPart).stream().filter(shown).findFirst().orElse(null));
        } catch (org.openqa.selenium.TimeoutException e) {
            throw new AssertionError("the card of '" + promptPart + "' never showed the awaited state; it showed "
                    + statesOf(promptPart), e);
        }
    }

    /** Waits until the job's result image is loaded and drawn, and returns its sizes. */
    private RenderedImage awaitImage(String jobId) {
        Object measured = new WebDriverWait(browser, WAIT).pollingEvery(Duration.ofMillis(50)).until(d -> js("""
                const card = document.querySelector(".card[data-job-id='" + arguments[0] + "']");
                const img = card && card.querySelector('.media img:not(.live)');
                if (!img || !img.complete || img.naturalWidth === 0) return null;
                const box = img.getBoundingClientRect();
                const media = card.querySelector('.media').getBoundingClientRect();
                return [img.naturalWidth, img.naturalHeight, box.width, box.height, media.width];
                """, jobId));
        List<?> v = (List<?>) measured;
        return new RenderedImage(((Number) v.get(0)).longValue(), ((Number) v.get(1)).longValue(),
                ((Number) v.get(2)).doubleValue(), ((Number) v.get(3)).doubleValue(), ((Number) v.get(4)).doubleValue());
    }

    /** The image is the PNG that was asked for, drawn in the PNG's proportions across its card. */
    private static void assertKeepsItsShape(RenderedImage image, int width, int height) {
        assertThat(image.naturalWidth()).as("PNG width").isEqualTo(width);
        assertThat(image.naturalHeight()).as("PNG height").isEqualTo(height);
        assertThat(image.renderedRatio()).as("width/height as drawn (%s), against the PNG's", image)
                .isCloseTo(image.naturalRatio(), within(0.02 * image.naturalRatio()));
        assertThat(image.width()).as("a lone result fills its card (%s)", image)
                .isGreaterThanOrEqualTo(0.9 * image.mediaWidth());
    }

    private Object js(String script, Object... args) {
        return ((JavascriptExecutor) browser).executeScript(script, args);
    }

    private static void awaitSim(String what, Callable<Boolean> condition) {
        await(what).atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(condition);
    }

    /** The statuses in the order the card showed them, each once per stretch. */
    private static List<String> statusesInOrder(List<CardState> shown) {
        List<String> statuses = new ArrayList<>();
        for (CardState s : shown) {
            if (statuses.isEmpty() || !statuses.get(statuses.size() - 1).equals(s.status())) {
                statuses.add(s.status());
            }
        }
        return statuses;
    }

    /** A screenshot with the job's card scrolled into the middle of the window. */
    private void screenshot(String name, String jobId) {
        js("document.querySelector(\".card[data-job-id='\" + arguments[0] + \"']\").scrollIntoView({ block: 'center' })", jobId);
        screenshot(name);
    }

    private void screenshot(String name) {
        File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        try {
            Files.copy(shot.toPath(), SystemPaths.artifactDir("screenshots").resolve(name + ".png"),
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Installs Debian's chromium and chromium-driver with the project's script when they are missing. */
    private static void ensureChromium() throws IOException, InterruptedException {
        if (Files.isExecutable(CHROMEDRIVER) && Files.isExecutable(CHROMIUM)) {
            return;
        }
        Process p = new ProcessBuilder("bash", SystemPaths.root().resolve("infra/local/chromium.sh").toString(), "install")
                .inheritIO().start();
        if (p.waitFor() != 0 || !Files.isExecutable(CHROMEDRIVER)) {
            throw new IllegalStateException("Chromium is needed for the browser test and could not be installed: "
                    + "run infra/local/chromium.sh install as root (Debian packages chromium and chromium-driver)");
        }
    }
}
