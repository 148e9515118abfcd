"""Fixed locations inside the repository checkout."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / ".tools"
DEPLOY_DIR = REPO_ROOT / "deploy"
FEED_CSV = REPO_ROOT.parent / "shared" / "data" / "campaign_feed.csv"
