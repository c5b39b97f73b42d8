"""The live origin ("Wowza" role): live HLS of cameras that stream now."""
