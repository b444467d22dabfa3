package io.forgequeue.systemtest;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
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
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.forgequeue.systemtest.ForgeQueueSystem.ALICE_KEY;
import static io.forgequeue.systemtest.ForgeQueueSystem.job;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The web page in headless Chromium (Debian's chromium and chromium-driver) against the real system: sign in,
 * submit a prompt, watch the queue position and progress, see the image, reload and still see it.
 * Screenshots go to {@code infra/system-tests/target/screenshots/}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BrowserSystemIT {

    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    private ForgeQueueSystem system;
    private WebDriver browser;
    private Path profile;

    @BeforeAll
    void start() throws IOException, InterruptedException {
        ensureChromium();
        system = ForgeQueueSystem.start("browser", 1, 1,
                List.of("--step-ms", "40", "--model-load-ms", "0", "--preview-every", "2"),
                Map.of("WORKER_PROGRESS_PREVIEWINTERVAL", "200ms"));
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
    void aPromptBecomesAnImageWithQueuePositionAndProgressAndSurvivesAReload() {
        Http alice = system.http(0, ALICE_KEY);
        browser.get(system.gateway(0).baseUrl() + "/");
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(30));
        wait.until(d -> d.findElement(By.id("key-input")).isDisplayed());
        browser.findElement(By.id("key-input")).sendKeys(ALICE_KEY);
        browser.findElement(By.cssSelector("#key-form button")).click();
        wait.until(d -> d.findElement(By.id("prompt")).isDisplayed());
        wait.until(d -> d.findElement(By.id("conn-text")).getText().equals("live"));

        // a job ahead of ours keeps the only worker busy for ~2 s, so ours has to wait in line
        assertThat(alice.post("/api/v1/jobs", job("the job ahead", 50)).status()).isEqualTo(202);
        browser.findElement(By.id("prompt")).sendKeys("a lighthouse at dusk, seen from the browser");
        browser.findElement(By.tagName("summary")).click();
        WebElement steps = browser.findElement(By.name("steps"));
        steps.clear();
        steps.sendKeys("40");
        browser.findElement(By.id("submit")).click();

        Set<String> seen = new LinkedHashSet<>();
        WebElement card = wait.until(d -> d.findElements(By.cssSelector(".card")).stream()
                .filter(c -> c.findElement(By.className("prompt")).getText().contains("seen from the browser"))
                .findFirst().orElse(null));
        String jobId = card.getAttribute("data-job-id");
        boolean queuedShot = false;
        boolean previewShot = false;
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline && !"SUCCEEDED".equals(card.getAttribute("data-status"))) {
            String where = card.findElement(By.className("where")).getText();
            String badge = card.findElement(By.className("badge")).getText();
            seen.add(badge.replaceAll("\\d+%", "n%") + " | " + where.replaceAll("about .*", "about …"));
            if (!card.findElements(By.cssSelector(".media img.live")).isEmpty()) {
                seen.add("live preview");
                if (!previewShot) {
                    screenshot("1b-running-with-preview");
                    previewShot = true;
                }
            }
            if (!queuedShot && badge.startsWith("QUEUED") && where.startsWith("Position")) {
                screenshot("1-queued");
                queuedShot = true;
            }
            AppProcess.sleep(40);
        }
        assertThat(card.getAttribute("data-status")).isEqualTo("SUCCEEDED");
        assertThat(seen).as("what the card showed on the way: %s", seen)
                .anyMatch(s -> s.startsWith("QUEUED") && s.contains("Position 1 in the queue"))
                .anyMatch(s -> s.startsWith("RUNNING n%"))
                .contains("live preview");
        waitForImage(wait, jobId);
        screenshot("2-done");

        browser.navigate().refresh();
        waitForImage(wait, jobId);
        screenshot("3-reloaded");
        assertThat(browser.findElement(By.cssSelector(".card[data-job-id='" + jobId + "'] .badge")).getText())
                .isEqualTo("SUCCEEDED");

        // the gateway dies while a job runs: the page reconnects by itself and still shows how the job ended
        browser.findElement(By.id("prompt")).clear();
        browser.findElement(By.id("prompt")).sendKeys("a job that ends while the page is cut off");
        browser.findElement(By.id("submit")).click();
        WebElement second = wait.until(d -> d.findElements(By.cssSelector(".card")).stream()
                .filter(c -> c.findElement(By.className("prompt")).getText().contains("cut off"))
                .findFirst().orElse(null));
        String secondId = second.getAttribute("data-job-id");
        wait.until(d -> "RUNNING".equals(second.getAttribute("data-status")));
        system.gateway(0).kill();
        new WebDriverWait(browser, Duration.ofSeconds(10)).until(d -> !d.findElement(By.id("conn-text")).getText().equals("live"));
        system.gateway(0).restart();
        new WebDriverWait(browser, Duration.ofSeconds(60)).until(d -> d.findElement(By.id("conn-text")).getText().equals("live"));
        new WebDriverWait(browser, Duration.ofSeconds(30)).until(d -> "SUCCEEDED".equals(
                d.findElement(By.cssSelector(".card[data-job-id='" + secondId + "']")).getAttribute("data-status")));
        waitForImage(wait, secondId);
        screenshot("4-after-reconnect");

        browser.manage().window().setSize(new Dimension(390, 844));
        AppProcess.sleep(300);
        screenshot("5-phone-width");
        Object overflow = ((JavascriptExecutor) browser).executeScript(
                "return document.documentElement.scrollWidth > window.innerWidth");
        assertThat(overflow).as("no sideways scrolling at phone width").isEqualTo(false);
    }

    private void waitForImage(WebDriverWait wait, String jobId) {
        wait.until(d -> {
            Object width = ((JavascriptExecutor) d).executeScript(
                    "const img = document.querySelector(\".card[data-job-id='\" + arguments[0] + \"'] .media img\");"
                            + "return img && img.complete ? img.naturalWidth : 0;", jobId);
            return ((Number) width).intValue() == 512; // the form's default size

        });
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
