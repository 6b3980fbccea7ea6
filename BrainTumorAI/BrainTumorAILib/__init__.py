"""BrainTumorAI core library: images, preprocessing, tasks, training (no Slicer, Qt or VTK).

Coordinates: images are SimpleITK images whose physical space is LPS (ITK's convention);
every point or box that crosses the boundary to Slicer or into JSON is RAS.
"""

__version__ = "0.1.0"
