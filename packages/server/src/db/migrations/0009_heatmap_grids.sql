-- Heatmaps rendered when they are looked at (issue 4, pre- and post-processing under the model's
-- own run time): an analysis keeps the map itself, { label, width, height, values, imageRegion },
-- on the model's grid (Grad-CAM: the feature maps' 16×16 cells) or, for a finer map such as
-- occlusion's, resampled to at most 64 cells a side. The grey map and the colour overlay are
-- drawn from it on request, the same bytes each time. Runs recorded before this keep their stored
-- images (heatmap_sha256, overlay_sha256), and are served from them.
ALTER TABLE analyses ADD COLUMN heatmap_grid jsonb;
